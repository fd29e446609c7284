import type { MedicationRequest, Patient } from '@medplum/fhirtypes';
import { PRESCRIPTION_NO_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { drugCodes } from './pickup-dispenses';

/** A mapping refusal: the message is marked error with this text, and the Task waits for a person. */
export class CirculationMappingError extends Error {}

/** One drug line as both peers need it. */
export interface PrescribedDrug {
  code: string;
  name: string;
  spec?: string;
  quantity: number;
  unit?: string;
  /** 用法 in words (口服, 每日3次, 每次1粒). */
  usage?: string;
  routeCode?: string;
  frequencyCode?: string;
  days?: number;
}

/** The 处方号 of a MedicationRequest (groupIdentifier), the number both peers key a prescription on. */
export function prescriptionNumberOf(request: MedicationRequest): string {
  const value = request.groupIdentifier?.system === PRESCRIPTION_NO_SYSTEM ? request.groupIdentifier.value : undefined;
  if (!value) throw new CirculationMappingError(`MedicationRequest/${request.id}: no 处方号 (groupIdentifier in ${PRESCRIPTION_NO_SYSTEM}); a prescription is circulated under it`);
  return value;
}

/** The MedicationRequests grouped into prescriptions, in the order they first appear: each is circulated on its own. */
export function byPrescription(requests: MedicationRequest[]): { rxNo: string; requests: MedicationRequest[] }[] {
  const groups = new Map<string, MedicationRequest[]>();
  for (const r of requests) {
    const rxNo = prescriptionNumberOf(r);
    groups.set(rxNo, [...(groups.get(rxNo) ?? []), r]);
  }
  return [...groups].map(([rxNo, rs]) => ({ rxNo, requests: rs }));
}

export function prescribedDrugs(prescriptions: MedicationRequest[]): PrescribedDrug[] {
  return prescriptions.map((r) => {
    const code = drugCodes(r)[0];
    const name = r.medicationCodeableConcept?.text ?? r.medicationCodeableConcept?.coding?.find((c) => c.display)?.display;
    const quantity = r.dispenseRequest?.quantity?.value;
    if (!code || !name || !(typeof quantity === 'number' && quantity > 0)) {
      throw new CirculationMappingError(`MedicationRequest/${r.id}: medicationCodeableConcept (code and name) and dispenseRequest.quantity are required to circulate it`);
    }
    const dosage = r.dosageInstruction?.[0];
    const supply = r.dispenseRequest?.expectedSupplyDuration;
    const spec = r.medicationCodeableConcept?.coding?.find((c) => c.code === code)?.display;
    return {
      code, name, quantity,
      ...(r.dispenseRequest?.quantity?.unit ? { unit: r.dispenseRequest.quantity.unit } : {}),
      ...(spec && spec !== name ? { spec } : {}),
      ...(dosage?.text ? { usage: dosage.text } : {}),
      ...(dosage?.route?.coding?.[0]?.code ? { routeCode: dosage.route.coding[0].code } : {}),
      ...(dosage?.timing?.code?.coding?.[0]?.code ? { frequencyCode: dosage.timing.code.coding[0].code } : {}),
      ...(supply?.value !== undefined && (supply.unit === 'd' || supply.code === 'd') ? { days: supply.value } : {}),
    };
  });
}

export function patientName(patient: Patient | undefined): string {
  const name = patient?.name?.[0];
  const text = name?.text ?? [name?.family, ...(name?.given ?? [])].filter(Boolean).join('');
  if (!text) throw new CirculationMappingError(`the Task's patient ${patient ? `Patient/${patient.id}` : '(not in the store)'} has no name; both peers check it at pickup`);
  return text;
}

/** 医保 2.0 dates are Beijing time without a zone: `yyyy-MM-dd HH:mm:ss`. */
export function beijingTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new CirculationMappingError(`not a date-time: ${iso}`);
  return new Date(t + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** The reverse, for what the platform reports: `2026-11-26 10:00:00` (Beijing) → ISO with +08:00. */
export function fromBeijingTime(text: string | undefined, fallback: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(text ?? '');
  return m ? `${m[1]}T${m[2]}+08:00` : fallback;
}
