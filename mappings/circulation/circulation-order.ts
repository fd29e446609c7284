import type { Encounter, Invoice, MedicationRequest, Organization, Patient, Resource, Task } from '@medplum/fhirtypes';
import { PHARMACY_CODE_SYSTEM, PICKUP_CODE_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { pharmacyOrder, type PharmacyOrder } from './pharmacy-order';
import { platformUpload, type PlatformUpload } from './platform-upload';
import { byPrescription, CirculationMappingError } from './prescription-content';

/** How a pharmacy is reached: through the 处方流转平台 (the campuses' own pharmacies) or its own web API. */
export type PharmacyRoute = 'platform' | 'api';

/**
 * What the circulation channel's destination does for one Task event: send its prescriptions (each 处方号 on its own:
 * the platform reviews, and the pharmacy dispenses, prescription by prescription), or undo them. The destination reads
 * the Task again before acting (it may have moved since), so this carries only what the peer needs and where it goes.
 */
export type CirculationOrder =
  | { action: 'circulate'; task: string; pharmacy: string; via: 'platform'; prescriptions: { rxNo: string; upload: PlatformUpload }[] }
  | { action: 'circulate'; task: string; pharmacy: string; via: 'api'; prescriptions: { rxNo: string; order: PharmacyOrder }[] }
  | { action: 'undo'; task: string; pharmacy: string; via: PharmacyRoute; rxNos: string[]; reason: string };

export interface CirculationOrderInput {
  task: Task;
  /** The Task's focus / basedOn / for / owner as loaded with the event, by reference. */
  referenced: Record<string, Resource>;
  routes: Record<string, PharmacyRoute>;
  validDays: number;
}

const byReference = <T extends Resource>(referenced: Record<string, Resource>, reference: string | undefined, type: T['resourceType']): T | undefined => {
  const found = reference ? referenced[reference] : undefined;
  return found?.resourceType === type ? (found as T) : undefined;
};

/** The pharmacy code of the Task's owner (Organization.identifier in PHARMACY_CODE_SYSTEM). */
export function pharmacyCodeOf(owner: Organization | undefined): string | undefined {
  return owner?.identifier?.find((i) => i.system === PHARMACY_CODE_SYSTEM)?.value;
}

/** 取药码: the paid Invoice's identifier; a Task input named pickupCode where the Invoice has none yet. */
function pickupCodeOf(task: Task, invoice: Invoice | undefined): string | undefined {
  const fromInvoice = invoice?.identifier?.find((i) => i.system === PICKUP_CODE_SYSTEM)?.value;
  if (fromInvoice) return fromInvoice;
  const input = task.input?.find((i) => i.type?.text === 'pickupCode' || i.type?.coding?.some((c) => c.code === 'pickupCode' || c.code === 'pickup-code' || c.system === PICKUP_CODE_SYSTEM));
  return input?.valueString ?? input?.valueIdentifier?.value ?? input?.valueCode;
}

/** 送药上门: a Task input `delivery` = delivery asks the pharmacy to deliver; otherwise the patient picks up. */
function deliveryOf(task: Task): 'pickup' | 'delivery' {
  const input = task.input?.find((i) => i.type?.text === 'delivery' || i.type?.coding?.some((c) => c.code === 'delivery'));
  return input?.valueCode === 'delivery' ? 'delivery' : 'pickup';
}

export function circulationOrder(input: CirculationOrderInput): CirculationOrder {
  const { task, referenced } = input;
  const ref = `Task/${task.id}`;
  const owner = byReference<Organization>(referenced, task.owner?.reference, 'Organization');
  const pharmacy = pharmacyCodeOf(owner);
  if (!pharmacy) throw new CirculationMappingError(`${ref}: owner ${task.owner?.reference ?? '(none)'} is not a pharmacy Organization with an identifier in ${PHARMACY_CODE_SYSTEM}`);
  const via = input.routes[pharmacy];
  if (!via) throw new CirculationMappingError(`${ref}: pharmacy ${pharmacy} is not configured (hospital.channels.prescriptionCirculation.pharmacies)`);
  const prescriptions = (task.basedOn ?? []).map((b) => {
    const request = byReference<MedicationRequest>(referenced, b.reference, 'MedicationRequest');
    if (!request) throw new CirculationMappingError(`${ref}: basedOn ${b.reference ?? '(no reference)'} is not a MedicationRequest in the store`);
    return request;
  });
  if (!prescriptions.length) throw new CirculationMappingError(`${ref}: basedOn names no MedicationRequest to circulate`);
  const groups = byPrescription(prescriptions);
  if (task.status === 'cancelled') {
    return { action: 'undo', task: ref, pharmacy, via, rxNos: groups.map((g) => g.rxNo), reason: task.statusReason?.text ?? '患者退费' };
  }
  const patient = byReference<Patient>(referenced, task.for?.reference, 'Patient');
  if (via === 'platform') {
    const encounter = byReference<Encounter>(referenced, task.encounter?.reference, 'Encounter');
    const uploads = groups.map((g) => ({ rxNo: g.rxNo, upload: platformUpload({ prescriptions: g.requests, patient, encounter, validDays: input.validDays }) }));
    return { action: 'circulate', task: ref, pharmacy, via, prescriptions: uploads };
  }
  const invoice = byReference<Invoice>(referenced, task.focus?.reference, 'Invoice');
  const pickupCode = pickupCodeOf(task, invoice);
  if (!pickupCode) throw new CirculationMappingError(`${ref}: no 取药码 (Invoice identifier ${PICKUP_CODE_SYSTEM} or Task.input pickupCode); the pharmacy cannot hand the drugs over without it`);
  const orders = groups.map((g) => ({ rxNo: g.rxNo, order: pharmacyOrder({ prescriptions: g.requests, patient, pickupCode, delivery: deliveryOf(task) }) }));
  return { action: 'circulate', task: ref, pharmacy, via, prescriptions: orders };
}
