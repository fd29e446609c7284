import type { Bundle, BundleEntry, CodeableConcept, OperationOutcome, Organization, Practitioner, Reference, ServiceRequest } from '@medplum/fhirtypes';
import type { InboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { fhirOrderStatus, fhirPriority, SNOMED_SYSTEM } from './order-vocabulary';
import { mentionedPatient } from './patient-identity';
import { readPatient } from './patient-person';
import { conditionalUpdate, identifierToken, transactionBundle } from './transaction-entries';
import type { Transmission } from './transmission-wrapper';
import { displayOf, idWithRoot, logicalReference, nameText, readDateTime } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * 医嘱 / 申请单 新增 (POOR_IN200901UV) and 更新 (POOR_IN200902UV) → one ServiceRequest per ordered item, keyed by
 * its 医嘱 ID (2.16.156.10011.1.28). Two layouts arrive under the same interaction id: the 申请单 form (sample
 * H0901Rt.xml: an observationRequest whose component2 items are the orders, its id the 电子申请单编号 → requisition)
 * and the 医嘱 form (sample H0801Rt.xml: a placerGroup of component2 requests). Drug orders
 * (substanceAdministrationRequest) are MedicationRequests and are refused here rather than half-mapped.
 */
const ORDER_ITEMS = ['observationRequest', 'procedureRequest'];

function codeableConcept(cd: V3Element | undefined): CodeableConcept | undefined {
  const code = cd?.attr('code');
  const display = displayOf(cd);
  if (!code) return display ? { text: display } : undefined;
  const oid = cd!.attr('codeSystem');
  const system = oid === V3_OID.snomed ? SNOMED_SYSTEM : oid ? oidSystem(oid) : undefined;
  return { coding: [{ ...(system ? { system } : {}), code, ...(display ? { display } : {}) }], ...(display ? { text: display } : {}) };
}

function performerOf(item: V3Element): Reference<Organization> | undefined {
  const place = item.at('location', 'serviceDeliveryLocation');
  const unit = place?.child('serviceProviderOrganization') ?? place?.child('location');
  return logicalReference<Organization>(unit?.at('id', 'item'), nameText(unit?.child('name')), 'Organization');
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
  const reasons = (encounter?.all('pertinentInformation1') ?? []).map((p) => codeableConcept(p.at('observationDx', 'value'))).filter((c): c is CodeableConcept => !!c);
  const notes = group.all('subjectOf6').map((s) => s.at('annotation', 'text')?.attr('value')).filter((t): t is string => !!t);
  const category = group.name === 'observationRequest' ? codeableConcept(group.child('code')) : undefined;

  const components = group.all('component2');
  const drug = components.find((c) => c.child('substanceAdministrationRequest'));
  if (drug) problems.add('not-supported', 'drug orders (substanceAdministrationRequest) map to MedicationRequest, not ServiceRequest', `${drug.path}/substanceAdministrationRequest`);
  const items = components.map((c) => ORDER_ITEMS.map((n) => c.child(n)).find((x) => x !== undefined)).filter((x): x is V3Element => x !== undefined);
  if (items.length === 0 && !drug) problems.add('required', 'the order has no ordered item (component2/observationRequest)', `${group.path}/component2`);

  const requests = items.map((item) => {
    const idElement = item.child('id');
    const orderId = idWithRoot(idElement, V3_OID.orderId)?.attr('extension');
    if (!orderId) problems.add('required', `the 医嘱 ID (id with root ${V3_OID.orderId}) is missing`, idElement?.path ?? `${item.path}/id`);
    const statusElement = item.child('statusCode')?.attr('code') ? item.child('statusCode')! : group.child('statusCode');
    const status = fhirOrderStatus(statusElement?.attr('code') ?? 'active');
    if (!status) problems.add('code-invalid', `${statusElement!.attr('code')} is not an order status (new, active, held, completed, cancelled, nullified)`, statusElement!.attrPath('code'));
    const code = codeableConcept(item.child('code'));
    if (!code) problems.add('required', 'the ordered item has no code', `${item.path}/code`);
    const performer = performerOf(item);
    return { orderId, status, code, performer };
  });
  if (problems.any || !patient) return problems.outcome();

  const mentioned = mentionedPatient(patient, ctx.empiRoot);
  const entries: BundleEntry[] = [mentioned.entry];
  for (const r of requests) {
    const request: ServiceRequest = {
      resourceType: 'ServiceRequest',
      identifier: [{ use: 'official', system: oidSystem(V3_OID.orderId), value: r.orderId! }],
      ...(requisition ? { requisition: { system: oidSystem(V3_OID.requisition), value: requisition } } : {}),
      status: r.status!,
      intent: 'order',
      ...(category ? { category: [category] } : {}),
      ...(priority ? { priority } : {}),
      code: r.code,
      subject: mentioned.reference,
      ...(visit ? { encounter: { type: 'Encounter', identifier: { system: oidSystem(V3_OID.visitSerial), value: visit.attr('extension') } } } : {}),
      ...(start || end ? { occurrencePeriod: { ...(start ? { start } : {}), ...(end ? { end } : {}) } } : {}),
      ...(authoredOn ? { authoredOn } : {}),
      ...(requester ? { requester } : {}),
      ...(r.performer ? { performer: [r.performer] } : {}),
      ...(reasons.length ? { reasonCode: reasons } : {}),
      ...(notes.length ? { note: notes.map((text) => ({ text })) } : {}),
    };
    entries.push(conditionalUpdate(request, `identifier=${identifierToken(oidSystem(V3_OID.orderId), r.orderId!)}`));
  }
  return transactionBundle(transmission, entries);
}
