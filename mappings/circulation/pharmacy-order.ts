import type { MedicationRequest, Patient } from '@medplum/fhirtypes';
import { patientName, prescribedDrugs, prescriptionNumberOf } from './prescription-content';

/** POST /api/prescriptions of a third-party pharmacy (连锁药房): keyed by rxNo, resent unchanged after a failure. */
export interface PharmacyOrder {
  rxNo: string;
  /** 取药码: the patient shows it at the counter; the pharmacy 核销s with it. */
  pickupCode: string;
  patient: { name: string; phone?: string };
  drugs: { code: string; name: string; spec?: string; quantity: number; unit?: string; usage?: string }[];
  delivery: 'pickup' | 'delivery';
}

export interface PharmacyOrderInput {
  prescriptions: MedicationRequest[];
  patient: Patient | undefined;
  pickupCode: string;
  delivery?: 'pickup' | 'delivery';
}

/**
 * The prescription as the pharmacy takes it. The patient's mobile goes with it (the pharmacy tells the patient the
 * drugs are ready); no ID number does, the pickup code and the name are what the counter checks.
 */
export function pharmacyOrder(input: PharmacyOrderInput): PharmacyOrder {
  const phone = input.patient?.telecom?.find((t) => t.system === 'phone' && t.value)?.value;
  return {
    rxNo: prescriptionNumberOf(input.prescriptions[0]),
    pickupCode: input.pickupCode,
    patient: { name: patientName(input.patient), ...(phone ? { phone } : {}) },
    drugs: prescribedDrugs(input.prescriptions).map((d) => ({
      code: d.code, name: d.name, ...(d.spec ? { spec: d.spec } : {}), quantity: d.quantity, ...(d.unit ? { unit: d.unit } : {}), ...(d.usage ? { usage: d.usage } : {}),
    })),
    delivery: input.delivery ?? 'pickup',
  };
}
