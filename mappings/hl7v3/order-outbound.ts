import type { CodeableConcept, OperationOutcome, Patient, Reference, ServiceRequest } from '@medplum/fhirtypes';
import type { OutboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { SNOMED_SYSTEM, v3OrderStatus, v3Priority } from './order-vocabulary';
import { writePatient } from './patient-person-write';
import { interactionMessage } from './transmission-wrapper';
import { writeName } from './v3-datatypes';
import { V3_OID, oidOf } from './v3-oids';
import { fhirToTs } from './v3-time';
import { el, serializeXml, type XmlNode } from './xml-writer';

/**
 * ServiceRequests → 申请单 新增 / 更新 (POOR_IN200901UV / POOR_IN200902UV), what the his-orders channel sends the HIS
 * for orders made in Lingshu. One message is one 申请单: the requests share a requisition; the fields a 申请单 has
 * once (category, priority, author, period, notes, diagnosis) are taken from the first request, and each request
 * is one component2 item. The layout is the platform sample H0901Rt.xml, which the inbound mapping reads back.
 */
export type OrderInteraction = 'POOR_IN200901UV' | 'POOR_IN200902UV';

export interface OrderMessageInput {
  requests: ServiceRequest[];
  patient: Patient;
}

function cd(tag: string, concept: CodeableConcept | undefined, extra: Record<string, string> = {}): XmlNode | undefined {
  const coding = concept?.coding?.[0];
  if (!coding?.code) return undefined;
  const codeSystem = coding.system === SNOMED_SYSTEM ? V3_OID.snomed : oidOf(coding.system);
  const display = coding.display ?? concept?.text;
  return el(tag, { ...extra, code: coding.code, codeSystem }, display !== undefined && el('displayName', { value: display }));
}

const idOf = (ref: Reference | undefined): { root?: string; extension?: string } =>
  ({ root: oidOf(ref?.identifier?.system), extension: ref?.identifier?.value });

function checkInput(input: OrderMessageInput, problems: MappingProblems): void {
  if (input.requests.length === 0) problems.add('required', 'there is no ServiceRequest to send', 'ServiceRequest');
  const requisition = input.requests[0]?.requisition?.value;
  input.requests.forEach((r, i) => {
    if (!r.identifier?.some((id) => id.system === `urn:oid:${V3_OID.orderId}` && id.value)) {
      problems.add('required', `the request needs its 医嘱 ID (identifier with system urn:oid:${V3_OID.orderId}) before the HIS can be told`, `ServiceRequest[${i}].identifier`);
    }
    if (r.requisition?.value !== requisition) problems.add('invariant', 'all requests of one message belong to one 申请单 (the same requisition)', `ServiceRequest[${i}].requisition`);
    if (!r.code?.coding?.[0]?.code) problems.add('required', 'the request needs a coded item (the HIS charge item code)', `ServiceRequest[${i}].code`);
  });
}

export function serviceRequestsToPoor(input: OrderMessageInput, interaction: OrderInteraction, ctx: OutboundContext): string | OperationOutcome {
  const problems = new MappingProblems();
  checkInput(input, problems);
  if (problems.any) return problems.outcome();
  const first = input.requests[0];
  const requester = first.requester;
  const visit = first.encounter?.identifier;

  const items = input.requests.map((r) => {
    const orderId = r.identifier!.find((id) => id.system === `urn:oid:${V3_OID.orderId}`)!.value;
    const performer = r.performer?.[0];
    return el('component2', {},
      el('observationRequest', { classCode: 'OBS', moodCode: 'RQO' },
        el('id', {}, el('item', { root: V3_OID.orderId, extension: orderId })),
        cd('code', r.code),
        el('statusCode', { code: v3OrderStatus(r.status) }),
        performer && el('location', { typeCode: 'LOC' },
          el('serviceDeliveryLocation', { classCode: 'SDLOC' },
            el('serviceProviderOrganization', { classCode: 'ORG', determinerCode: 'INSTANCE' },
              performer.identifier && el('id', {}, el('item', idOf(performer))),
              performer.display !== undefined && writeName(performer.display))))));
  });

  const application = el('observationRequest', { classCode: 'OBS', moodCode: 'RQO' },
    el('id', {}, el('item', { root: V3_OID.requisition, extension: first.requisition?.value })),
    cd('code', first.category?.[0]),
    el('statusCode', { code: v3OrderStatus(first.status) }),
    first.occurrencePeriod && el('effectiveTime', { 'xsi:type': 'IVL_TS' },
      first.occurrencePeriod.start !== undefined && el('low', { value: fhirToTs(first.occurrencePeriod.start) }),
      first.occurrencePeriod.end !== undefined && el('high', { value: fhirToTs(first.occurrencePeriod.end) })),
    first.priority && el('priorityCode', { code: v3Priority(first.priority) }),
    el('author', { typeCode: 'AUT' },
      first.authoredOn !== undefined && el('time', { value: fhirToTs(first.authoredOn) }),
      el('assignedEntity', { classCode: 'ASSIGNED' },
        requester?.identifier && el('id', {}, el('item', idOf(requester))),
        requester?.display !== undefined && el('assignedPerson', { classCode: 'PSN', determinerCode: 'INSTANCE' }, writeName(requester.display)))),
    items,
    (first.note ?? []).map((n) => el('subjectOf6', { contextConductionInd: 'false' },
      el('seperatableInd', { value: 'false' }),
      el('annotation', {},
        el('text', { value: n.text }),
        el('statusCode', { code: 'completed' }),
        el('author', {}, el('assignedEntity', { classCode: 'ASSIGNED' }))))),
    el('componentOf1', { contextConductionInd: 'false', typeCode: 'COMP' },
      el('encounter', { classCode: 'ENC', moodCode: 'EVN' },
        visit && el('id', {}, el('item', { root: oidOf(visit.system), extension: visit.value })),
        el('statusCode', { code: 'active' }),
        el('subject', { typeCode: 'SBJ' }, writePatient(input.patient, ctx.empiRoot)),
        (first.reasonCode ?? []).map((reason) => el('pertinentInformation1', { typeCode: 'PERT' },
          el('observationDx', { classCode: 'OBS', moodCode: 'EVN' },
            el('code'),
            el('statusCode', { code: 'active' }),
            cd('value', reason)))))));

  return serializeXml(interactionMessage(interaction, ctx,
    el('controlActProcess', { classCode: 'ACTN', moodCode: 'EVN' }, el('subject', { typeCode: 'SUBJ' }, application))));
}
