import type { Identifier, MedicationDispense, MedicationRequest, Task } from '@medplum/fhirtypes';
import { CIRCULATION_DISPENSE_SYSTEM, DRUG_TRACE_CODE_SYSTEM, LOT_NUMBER_EXTENSION } from '../../fhir-resources/billing/billing-vocabulary';
import type { DispensedDrug } from './circulation-transitions';

/** The codes a MedicationRequest's drug goes by (医保药品编码 or the HIS's), as sent to the peer. */
export function drugCodes(request: MedicationRequest): string[] {
  return (request.medicationCodeableConcept?.coding ?? []).map((c) => c.code).filter((c): c is string => Boolean(c));
}

/**
 * 核销 as FHIR: one completed MedicationDispense per MedicationRequest of the Task, with the 追溯码 and lots the
 * pharmacy scanned for that drug. A drug the report does not name was still handed over (核销 is of the whole
 * prescription), so its dispense carries the prescribed quantity. The identifier `<Task id>/<MedicationRequest id>`
 * makes the write conditional: a 核销 reported twice dispenses once.
 */
export function pickupDispenses(task: Task, event: { at: string; pharmacy?: string; drugs: DispensedDrug[] }, prescriptions: MedicationRequest[]): MedicationDispense[] {
  return prescriptions.map((request) => {
    const codes = drugCodes(request);
    const drugs = event.drugs.filter((d) => codes.includes(d.code));
    const prescribed = request.dispenseRequest?.quantity;
    const quantity = drugs.length
      ? { value: drugs.reduce((sum, d) => sum + d.quantity, 0), ...(drugs[0].unit ?? prescribed?.unit ? { unit: drugs[0].unit ?? prescribed?.unit } : {}) }
      : prescribed;
    const traceCodes: Identifier[] = drugs.filter((d) => d.traceCode).map((d) => ({ system: DRUG_TRACE_CODE_SYSTEM, value: d.traceCode }));
    const lots = [...new Set(drugs.map((d) => d.lot).filter((l): l is string => Boolean(l)))];
    const dispense: MedicationDispense = {
      resourceType: 'MedicationDispense',
      identifier: [{ system: CIRCULATION_DISPENSE_SYSTEM, value: `${task.id}/${request.id}` }, ...traceCodes],
      status: 'completed',
      ...(request.medicationCodeableConcept ? { medicationCodeableConcept: request.medicationCodeableConcept } : { medicationReference: request.medicationReference }),
      ...(task.for ? { subject: task.for } : {}),
      ...(task.owner ? { performer: [{ actor: task.owner }] } : {}),
      authorizingPrescription: [{ reference: `MedicationRequest/${request.id}` }],
      ...(quantity ? { quantity } : {}),
      whenHandedOver: event.at,
      supportingInformation: [{ reference: `Task/${task.id}` }],
      ...(event.pharmacy ? { note: [{ text: `${event.pharmacy} 核销` }] } : {}),
    } as MedicationDispense;
    if (lots.length) dispense.extension = lots.map((lot) => ({ url: LOT_NUMBER_EXTENSION, valueString: lot }));
    return dispense;
  });
}
