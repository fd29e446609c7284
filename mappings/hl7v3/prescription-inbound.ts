import type { CodeableConcept, Dosage, Encounter, MedicationRequest, Patient, Practitioner, Quantity, Reference } from '@medplum/fhirtypes';
import { PRESCRIPTION_NO_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import type { MappingProblems } from './mapping-problems';
import type { ServiceRequestStatus } from './order-vocabulary';
import { conceptOf, nameText } from './v3-datatypes';
import type { V3Element } from './v3-document';

/**
 * A drug order (医嘱 form, sample H0801Rt.xml: placerGroup/component2/substanceAdministrationRequest) → one
 * MedicationRequest per drug. The drugs of one placerGroup are one prescription: its 处方编号 (placerGroup/id, root
 * 2.16.156.10011.1.20) becomes every drug's `groupIdentifier`, which is how the bill pays them together.
 *
 *   consumable2/manufacturedProduct1/manufacturedProduct/code + name   → medicationCodeableConcept
 *   doseQuantity                                                        → dose (单次剂量)
 *   routeCode (用药途径 2.16.156.10011.2.3.1.158)                        → route
 *   effectiveTime/code (药物使用频次 2.16.156.10011.2.3.1.267)           → timing.code
 *   doseCheckQuantity/item/denominator (unit d)                         → dispenseRequest.expectedSupplyDuration (天数)
 *   component2/supplyRequest/quantity (领药量)                          → dispenseRequest.quantity
 *   subjectOf6/annotation/text on the drug (else on the group)          → patientInstruction (注意事项)
 */
export interface DrugOrder {
  medication?: MedicationRequest['medicationCodeableConcept'];
  dose?: Quantity;
  route?: MedicationRequest['medicationCodeableConcept'];
  frequency?: MedicationRequest['medicationCodeableConcept'];
  days?: number;
  quantity?: Quantity;
  instructions: string[];
}

/** What every drug of the message shares (from the placerGroup and its encounter). */
export interface PrescriptionContext {
  prescriptionNo: string;
  subject: Reference<Patient>;
  encounter?: Reference<Encounter>;
  authoredOn?: string;
  requester?: Reference<Practitioner>;
  /** 注意事项 written once for the whole prescription. */
  groupInstructions: string[];
  /** The visit's diagnoses (门诊诊断). */
  reasons: CodeableConcept[];
}

function quantity(element: V3Element | undefined, problems: MappingProblems): Quantity | undefined {
  const raw = element?.attr('value');
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw)) {
    problems.add('value', `${raw} is not a quantity`, element!.attrPath('value'));
    return undefined;
  }
  const unit = element!.attr('unit');
  return { value, ...(unit ? { unit } : {}) };
}

export function readDrugOrder(item: V3Element, problems: MappingProblems): DrugOrder {
  const product = item.at('consumable2', 'manufacturedProduct1', 'manufacturedProduct');
  const productCode = product?.child('code');
  const name = nameText(product?.child('name'));
  const coded = conceptOf(productCode);
  const medication = coded?.coding
    ? { coding: coded.coding.map((c) => ({ ...c, ...(name && !c.display ? { display: name } : {}) })), ...(name ? { text: name } : coded.text ? { text: coded.text } : {}) }
    : name ? { text: name } : undefined;
  if (!medication) problems.add('required', 'the drug order names no drug (consumable2/manufacturedProduct1/manufacturedProduct/code or name)', `${item.path}/consumable2`);
  const days = item.at('doseCheckQuantity', 'item', 'denominator');
  const daysValue = days?.attr('value');
  if (daysValue !== undefined && !/^\d+$/.test(daysValue)) problems.add('value', `${daysValue} is not a number of days`, days!.attrPath('value'));
  return {
    medication,
    dose: quantity(item.child('doseQuantity'), problems),
    route: conceptOf(item.child('routeCode')),
    frequency: conceptOf(item.at('effectiveTime', 'code')),
    ...(daysValue !== undefined && /^\d+$/.test(daysValue) ? { days: Number(daysValue) } : {}),
    quantity: quantity(item.at('component2', 'supplyRequest', 'quantity'), problems),
    instructions: item.all('subjectOf6').map((s) => s.at('annotation', 'text')?.attr('value')).filter((t): t is string => !!t),
  };
}

/** ServiceRequest and MedicationRequest name the same 医嘱 states differently (R4 medicationrequest-status). */
const MEDICATION_STATUS: Readonly<Record<ServiceRequestStatus, MedicationRequest['status']>> = {
  draft: 'draft', active: 'active', 'on-hold': 'on-hold', revoked: 'cancelled', completed: 'completed', 'entered-in-error': 'entered-in-error', unknown: 'unknown',
};

export function medicationRequest(drug: DrugOrder, orderId: { system: string; value: string }, status: ServiceRequestStatus, p: PrescriptionContext): MedicationRequest {
  const instructions = drug.instructions.length ? drug.instructions : p.groupInstructions;
  const dosage: Dosage = {
    ...(instructions.length ? { patientInstruction: instructions.join('；') } : {}),
    ...(drug.frequency ? { timing: { code: drug.frequency } } : {}),
    ...(drug.route ? { route: drug.route } : {}),
    ...(drug.dose ? { doseAndRate: [{ doseQuantity: drug.dose }] } : {}),
  };
  const supply = {
    ...(drug.quantity ? { quantity: drug.quantity } : {}),
    ...(drug.days !== undefined ? { expectedSupplyDuration: { value: drug.days, unit: '天', system: 'http://unitsofmeasure.org', code: 'd' } } : {}),
  };
  return {
    resourceType: 'MedicationRequest',
    identifier: [{ use: 'official', ...orderId }],
    groupIdentifier: { system: PRESCRIPTION_NO_SYSTEM, value: p.prescriptionNo },
    status: MEDICATION_STATUS[status],
    intent: 'order',
    medicationCodeableConcept: drug.medication,
    subject: p.subject,
    ...(p.encounter ? { encounter: p.encounter } : {}),
    ...(p.authoredOn ? { authoredOn: p.authoredOn } : {}),
    ...(p.requester ? { requester: p.requester } : {}),
    ...(p.reasons.length ? { reasonCode: p.reasons } : {}),
    ...(Object.keys(dosage).length ? { dosageInstruction: [dosage] } : {}),
    ...(Object.keys(supply).length ? { dispenseRequest: supply } : {}),
  };
}
