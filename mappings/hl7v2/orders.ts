import type { Bundle, CodeableConcept, Identifier, OperationOutcome, ServiceRequest } from '@medplum/fhirtypes';
import { LINGSHU_CANONICAL_BASE } from '../../fhir-resources/profiles';
import { codeableConcept, practitionerReference } from './hl7-datatypes';
import { fhirDateTime } from './hl7-datetime';
import { cxIdentifier, eiIdentifier } from './hl7-identifiers';
import type { Hl7Message, Hl7Segment } from './hl7-message';
import type { Hl7v2Context, OrderCategory } from './mapping-context';
import { MappingProblem, outcomeOnProblem } from './mapping-problem';
import { openMessage, requiredSegment, type OpenedMessage } from './message-header';
import { patientFromPid } from './patient';

/**
 * 检验 / 检查 / 治疗 as a code system of Lingshu's own: SNOMED has lab and imaging procedure categories but no single
 * concept for the HIS's 治疗 orders. It belongs with the other Lingshu systems in fhir-resources/profiles.
 */
export const ORDER_CATEGORY_SYSTEM = `${LINGSHU_CANONICAL_BASE}/CodeSystem/order-category`;
const CATEGORY_DISPLAY: Readonly<Record<OrderCategory, string>> = { lab: '检验', exam: '检查', treatment: '治疗' };

/** OBR-24 diagnostic service section (table 0074) → category; a channel adds its HIS's own sections in the context. */
const SECTION_CATEGORY: Readonly<Record<string, OrderCategory>> = {
  LAB: 'lab', HM: 'lab', CH: 'lab', SR: 'lab', MB: 'lab', MCB: 'lab', MYC: 'lab', BLB: 'lab', IMM: 'lab', CP: 'lab', URN: 'lab', VR: 'lab', TX: 'lab', BG: 'lab', CG: 'lab', GE: 'lab', OSL: 'lab', SP: 'lab',
  RAD: 'exam', CT: 'exam', MR: 'exam', NMR: 'exam', NMS: 'exam', RUS: 'exam', CUS: 'exam', OUS: 'exam', VUS: 'exam', XRC: 'exam', RX: 'exam', US: 'exam', EC: 'exam', EN: 'exam', PF: 'exam', CTH: 'exam', AU: 'exam',
  PT: 'treatment', OT: 'treatment', RT: 'treatment', RC: 'treatment',
};

/** The category when OBR-24 says nothing: OML is the laboratory order message, OMG the general (exam) one. */
const MESSAGE_CATEGORY: Readonly<Record<string, OrderCategory>> = { OML: 'lab', OMG: 'exam', ORM: 'lab' };

/** ORC-1 order control (table 0119) and ORC-5 order status (table 0038) → ServiceRequest.status. */
function requestStatus(orc: Hl7Segment | undefined): ServiceRequest['status'] {
  const control = orc?.get(1) ?? 'NW';
  if (['CA', 'OC', 'DC', 'CR', 'OD', 'DR'].includes(control)) return 'revoked';
  if (['HD', 'OH'].includes(control)) return 'on-hold';
  if (['RL', 'OE'].includes(control)) return 'active';
  const byOrderStatus: Record<string, ServiceRequest['status']> = { CM: 'completed', CA: 'revoked', DC: 'revoked', HD: 'on-hold', IP: 'active', SC: 'active', A: 'active', ER: 'entered-in-error' };
  return byOrderStatus[orc?.get(5) ?? ''] ?? 'active';
}

/**
 * ORM^O01, OML^O21, OMG^O19 → one ServiceRequest per ORC/OBR pair, keyed on the placer order number (the HIS 申请单号),
 * else the filler's. A cancel (ORC-1 CA) rewrites the same request as revoked.
 */
export function ordersToBundle(message: Hl7Message, context: Hl7v2Context = {}): Bundle | OperationOutcome {
  return outcomeOnProblem(() => {
    const opened = openMessage(message, context, { ORM: ['O01'], OML: ['O21'], OMG: ['O19'] });
    const { patient, key } = patientFromPid(requiredSegment(message, 'PID', 'an order is for a patient'), opened.ctx);
    const patientUrl = opened.bundle.createIfAbsent(patient, key);
    const pv1 = message.segments.find((s) => s.name === 'PV1');
    const visit = pv1 && cxIdentifier(pv1.first(19), `${pv1.where(19)}[1]`, opened.ctx);
    let orc: Hl7Segment | undefined;
    let written = 0;
    for (const segment of message.segments) {
      if (segment.name === 'ORC') orc = segment;
      if (segment.name !== 'OBR') continue;
      const { request, key: orderKey } = serviceRequest(segment, orc, opened, patientUrl, visit);
      opened.bundle.put(request, orderKey);
      written++;
    }
    if (written === 0) throw new MappingProblem('required', 'OBR', `${opened.code}^${opened.event} has no OBR: there is no order to write`);
    return opened.bundle.build();
  });
}

function serviceRequest(obr: Hl7Segment, orc: Hl7Segment | undefined, opened: OpenedMessage, patientUrl: string, visit: Identifier | undefined): { request: ServiceRequest; key: Identifier } {
  const { ctx, sendingApplication } = opened;
  const placer = (orc && eiIdentifier(orc.first(2), ctx, 'PLAC')) ?? eiIdentifier(obr.first(2), ctx, 'PLAC');
  const filler = (orc && eiIdentifier(orc.first(3), ctx, 'FILL')) ?? eiIdentifier(obr.first(3), ctx, 'FILL');
  const key = placer ?? filler;
  if (!key) throw new MappingProblem('required', orc ? orc.where(2) : obr.where(2), `${(orc ?? obr).where(2)} (placer order number) is empty: the order cannot be found again to update or cancel`);
  const code = codeableConcept(obr.first(4), sendingApplication);
  if (!code) throw new MappingProblem('required', obr.where(4), `${obr.where(4)} (universal service identifier) is empty: what is ordered is unknown`);
  const section = obr.get(24).trim().toUpperCase();
  const category: OrderCategory = ctx.serviceSections[section] ?? SECTION_CATEGORY[section] ?? MESSAGE_CATEGORY[opened.code];
  const authoredOn = fhirDateTime(orc?.get(9) ?? '', orc?.where(9) ?? 'ORC', ctx.utcOffset);
  const occurrence = fhirDateTime(obr.get(7), obr.where(7), ctx.utcOffset);
  const requester = (orc && practitionerReference(orc.first(12), ctx)) ?? practitionerReference(obr.first(16), ctx);
  const priority = (orc?.get(7, 6) || obr.get(27, 6) || obr.get(5)).toUpperCase();
  const reason = codeableConcept(obr.first(31), sendingApplication);
  const specimen = obr.get(15, 1, 2) || obr.get(15, 2) || obr.get(15, 1);
  const request: ServiceRequest = {
    resourceType: 'ServiceRequest',
    identifier: [placer, filler].filter((i): i is Identifier => i !== undefined),
    status: requestStatus(orc),
    intent: 'order',
    category: [categoryConcept(category)],
    ...(priority === 'S' ? { priority: 'stat' as const } : priority === 'A' ? { priority: 'asap' as const } : {}),
    code,
    subject: { reference: patientUrl },
    ...(visit ? { encounter: { type: 'Encounter', identifier: visit } } : {}),
    ...(occurrence ? { occurrenceDateTime: occurrence } : {}),
    ...(authoredOn ? { authoredOn } : {}),
    ...(requester ? { requester } : {}),
    ...(reason ? { reasonCode: [reason] } : {}),
    ...(specimen ? { note: [{ text: `标本 (specimen): ${specimen}` }] } : {}),
  };
  return { request, key };
}

function categoryConcept(category: OrderCategory): CodeableConcept {
  // Only 检验 has an exact SNOMED concept; 检查 spans imaging, ECG and endoscopy.
  const snomed = category === 'lab' ? { code: '108252007', display: 'Laboratory procedure' } : undefined;
  return {
    coding: [
      { system: ORDER_CATEGORY_SYSTEM, code: category, display: CATEGORY_DISPLAY[category] },
      ...(snomed ? [{ system: 'http://snomed.info/sct', ...snomed }] : []),
    ],
  };
}
