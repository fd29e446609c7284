import type { Bundle, BundleEntry, Encounter, OperationOutcome, Organization, Practitioner, Reference, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { chargeItemEntry, readCharge, type ChargeLine } from './charge-items';
import type { InboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { fhirOrderStatus, fhirPriority, type ServiceRequestStatus } from './order-vocabulary';
import { mentionedPatient } from './patient-identity';
import { readPatient } from './patient-person';
import { medicationRequest, readDrugOrder, type DrugOrder } from './prescription-inbound';
import { conditionalUpdate, identifierToken, transactionBundle } from './transaction-entries';
import type { Transmission } from './transmission-wrapper';
import { conceptOf, idWithRoot, logicalReference, nameText, readDateTime } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * 医嘱 / 申请单 新增 (POOR_IN200901UV) and 更新 (POOR_IN200902UV) → one resource per ordered item, keyed by its 医嘱
 * ID (2.16.156.10011.1.28): a ServiceRequest for a lab / exam / treatment item, a MedicationRequest for a drug
 * (prescription-inbound.ts), and beside each item that carries a price its ChargeItem (charge-items.ts). Two
 * layouts arrive under the same interaction id: the 申请单 form (sample H0901Rt.xml: an observationRequest whose
 * component2 items are the orders, its id the 电子申请单编号 → requisition) and the 医嘱 form (sample H0801Rt.xml: a
 * placerGroup of component2 requests; with drugs in it, its id is the 处方编号).
 */
const SERVICE_ITEMS = ['observationRequest', 'procedureRequest'];
const DRUG_ITEM = 'substanceAdministrationRequest';

function performerOf(item: V3Element): Reference<Organization> | undefined {
  const place = item.at('location', 'serviceDeliveryLocation');
  const unit = place?.child('serviceProviderOrganization') ?? place?.child('location');
  return logicalReference<Organization>(unit?.at('id', 'item'), nameText(unit?.child('name')), 'Organization');
}

interface OrderedItem {
  orderId?: string;
  status?: ServiceRequestStatus;
  /** Absent for a drug. */
  code?: ServiceRequest['code'];
  performer?: Reference<Organization>;
  drug?: DrugOrder;
  charge?: ChargeLine;
}

function readItem(item: V3Element, group: V3Element, problems: MappingProblems): OrderedItem {
  const idElement = item.child('id');
  const orderId = idWithRoot(idElement, V3_OID.orderId)?.attr('extension');
  if (!orderId) problems.add('required', `the 医嘱 ID (id with root ${V3_OID.orderId}) is missing`, idElement?.path ?? `${item.path}/id`);
  const statusElement = item.child('statusCode')?.attr('code') ? item.child('statusCode')! : group.child('statusCode');
  const status = fhirOrderStatus(statusElement?.attr('code') ?? 'active');
  if (!status) problems.add('code-invalid', `${statusElement!.attr('code')} is not an order status (new, active, held, completed, cancelled, nullified)`, statusElement!.attrPath('code'));
  if (item.name === DRUG_ITEM) {
    const product = item.at('consumable2', 'manufacturedProduct1', 'manufacturedProduct');
    const drug = readDrugOrder(item, problems);
    return { orderId, status, drug, charge: readCharge(item, product?.child('code'), drug.medication?.text, problems) };
  }
  const code = conceptOf(item.child('code'));
  if (!code) problems.add('required', 'the ordered item has no code', `${item.path}/code`);
  return { orderId, status, code, performer: performerOf(item), charge: readCharge(item, item.child('code'), code?.text, problems) };
}

export function ordersToBundle(root: V3Element, transmission: Transmission, ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const subject = root.at('controlActProcess', 'subject');
  const group = subject?.child('observationRequest') ?? subject?.child('placerGroup');
  if (!group) {
    problems.add('required', 'the order (controlActProcess/subject/observationRequest or placerGroup) is missing', subject?.path ?? `${root.path}/controlActProcess/subject`);
    return problems.outcome();
  }
  const requisition = group.name === 'observationRequest' ? idWithRoot(group.child('id'), V3_OID.requisition)?.attr('extension') : undefined;
  if (group.name === 'observationRequest' && !requisition) {
    problems.add('required', `the 电子申请单编号 (id item with root ${V3_OID.requisition}) is missing`, group.child('id')?.path ?? `${group.path}/id`);
  }
  const encounter = group.at('componentOf1', 'encounter');
  const patientElement = encounter?.at('subject', 'patient');
  if (!patientElement) problems.add('required', 'the patient (componentOf1/encounter/subject/patient) is missing', `${group.path}/componentOf1/encounter/subject/patient`);
  const patient = patientElement ? readPatient(patientElement, ctx, problems, { demographicsRequired: false }) : undefined;

  const priorityCode = group.child('priorityCode');
  const priority = priorityCode?.attr('code') ? fhirPriority(priorityCode.attr('code')!) : undefined;
  if (priorityCode?.attr('code') && !priority) problems.add('code-invalid', `${priorityCode.attr('code')} is not an order priority (R, UR, A, S)`, priorityCode.attrPath('code'));
  const authoredOn = readDateTime(group.at('author', 'time'), 'value', problems);
  const period = group.child('effectiveTime');
  const start = readDateTime(period?.child('low'), 'value', problems);
  const end = readDateTime(period?.child('high'), 'value', problems);
  const author = group.at('author', 'assignedEntity');
  const requester = logicalReference<Practitioner>(author?.at('id', 'item'), nameText(author?.at('assignedPerson', 'name')) ?? group.at('author', 'signatureText')?.attr('value'), 'Practitioner');
  const visit = idWithRoot(encounter?.child('id'), V3_OID.visitSerial);
  const reasons = (encounter?.all('pertinentInformation1') ?? []).map((p) => conceptOf(p.at('observationDx', 'value'))).filter((c) => c !== undefined);
  const notes = group.all('subjectOf6').map((s) => s.at('annotation', 'text')?.attr('value')).filter((t): t is string => !!t);
  const category = group.name === 'observationRequest' ? conceptOf(group.child('code')) : undefined;

  const elements = group.all('component2').map((c) => [...SERVICE_ITEMS, DRUG_ITEM].map((n) => c.child(n)).find((x) => x !== undefined)).filter((x): x is V3Element => x !== undefined);
  if (elements.length === 0) problems.add('required', 'the order has no ordered item (component2/observationRequest, procedureRequest or substanceAdministrationRequest)', `${group.path}/component2`);
  const items = elements.map((e) => readItem(e, group, problems));
  const prescriptionNo = idWithRoot(group.child('id'), V3_OID.prescriptionNo)?.attr('extension');
  if (items.some((i) => i.drug) && !prescriptionNo) {
    problems.add('required', `a drug order needs its 处方编号 (placerGroup/id item with root ${V3_OID.prescriptionNo})`, group.child('id')?.path ?? `${group.path}/id`);
  }
  if (problems.any || !patient) return problems.outcome();

  const mentioned = mentionedPatient(patient, ctx.empiRoot);
  const visitReference: Reference<Encounter> | undefined = visit ? { type: 'Encounter', identifier: { system: oidSystem(V3_OID.visitSerial), value: visit.attr('extension') } } : undefined;
  const orderIdOf = (value: string) => ({ system: oidSystem(V3_OID.orderId), value });
  const serviceRequest = (r: OrderedItem): ServiceRequest => ({
    resourceType: 'ServiceRequest',
    identifier: [{ use: 'official', ...orderIdOf(r.orderId!) }],
    ...(requisition ? { requisition: { system: oidSystem(V3_OID.requisition), value: requisition } } : {}),
    status: r.status!,
    intent: 'order',
    ...(category ? { category: [category] } : {}),
    ...(priority ? { priority } : {}),
    code: r.code,
    subject: mentioned.reference,
    ...(visitReference ? { encounter: visitReference } : {}),
    ...(start || end ? { occurrencePeriod: { ...(start ? { start } : {}), ...(end ? { end } : {}) } } : {}),
    ...(authoredOn ? { authoredOn } : {}),
    ...(requester ? { requester } : {}),
    ...(r.performer ? { performer: [r.performer] } : {}),
    ...(reasons.length ? { reasonCode: reasons } : {}),
    ...(notes.length ? { note: notes.map((text) => ({ text })), patientInstruction: notes.join('；') } : {}),
  });
  const prescription = { prescriptionNo: prescriptionNo ?? '', subject: mentioned.reference, encounter: visitReference, authoredOn, requester, groupInstructions: notes, reasons };

  const entries: BundleEntry[] = [mentioned.entry];
  for (const item of items) {
    const request: Resource = item.drug ? medicationRequest(item.drug, orderIdOf(item.orderId!), item.status!, prescription) : serviceRequest(item);
    const entry = conditionalUpdate(request, `identifier=${identifierToken(oidSystem(V3_OID.orderId), item.orderId!)}`);
    entries.push(entry);
    if (!item.charge) continue;
    // The ChargeItem follows its order: the transaction resolves the order's urn:uuid for the updates after it.
    entries.push(chargeItemEntry(item.charge, {
      service: entry.fullUrl!, orderId: item.orderId!, cancelled: ['revoked', 'entered-in-error'].includes(item.status!),
      subject: mentioned.reference, encounter: visitReference, enteredDate: authoredOn ?? transmission.creationTime,
    }));
  }
  return transactionBundle(transmission, entries);
}
