import type { Identifier, ServiceRequest } from '@medplum/fhirtypes';
import type { OrderInteraction } from './order-outbound';
import { isOperationOutcome } from './mapping-problems';
import { parseV3 } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/** The HL7 v2 table 0203 type of an order number the filler (here the HIS) issued. */
const FILLER_NUMBER = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL', display: 'Filler Identifier' }] };

/**
 * The 医嘱号 the HIS assigned to an order Lingshu sent it (POOR_IN200901UV), read from its MCCI_IN000002UV01 answer.
 * The 互联互通 acknowledgement has no slot for it; the HIS interfaces put it where the samples allow a coded detail:
 * `acknowledgement/acknowledgementDetail/code` with codeSystem 2.16.156.10011.1.28 (医嘱 ID). Undefined when the
 * answer is not AA or carries no such detail.
 */
export function acknowledgedOrderNumber(xml: string): Identifier | undefined {
  const doc = parseV3(xml);
  if (isOperationOutcome(doc)) return undefined;
  const ack = doc.root.child('acknowledgement');
  if (!ack || !['AA', 'CA'].includes(ack.attr('typeCode') ?? '')) return undefined;
  const code = ack.all('acknowledgementDetail').map((d) => d.child('code')).find((c) => c?.attr('codeSystem') === V3_OID.orderId && c.attr('code'));
  if (!code) return undefined;
  return { use: 'official', type: FILLER_NUMBER, system: oidSystem(V3_OID.orderId), value: code.attr('code')! };
}

const ORDER_ID_SYSTEM = oidSystem(V3_OID.orderId);

/** Is this the 医嘱号 the HIS issued for an order made in Lingshu (as opposed to an order the HIS made itself)? */
export function isHisFillerNumber(identifier: Identifier): boolean {
  return identifier.system === ORDER_ID_SYSTEM && identifier.type?.coding?.some((c) => c.code === 'FILL') === true;
}

/**
 * An order that came from another system carries that system's number: the HIS 医嘱 ID of a POOR (his-orders), the
 * placer / filler numbers of an HL7 v2 ORM. One made in Lingshu has none, until the HIS answers with the 医嘱号 it
 * assigned, which is kept as a filler number under 1.28 (acknowledgedOrderNumber).
 */
export function isOrderMadeInLingshu(request: ServiceRequest): boolean {
  const orderNumber = (i: Identifier) => i.system === ORDER_ID_SYSTEM || i.type?.coding?.some((c) => c.code === 'PLAC' || c.code === 'FILL');
  return !(request.identifier ?? []).some((i) => orderNumber(i) && !isHisFillerNumber(i));
}

/**
 * What Lingshu tells the HIS about one of its orders: 新增 (POOR_IN200901UV) until the HIS has answered with its
 * 医嘱号, 更新 (POOR_IN200902UV) after. The message has one order-id slot (root 1.28): before the HIS number exists
 * it carries Lingshu's own number for the order (placer number: prefix + resource id), so the HIS can tell a resend
 * from a new order.
 */
export function orderForHis(request: ServiceRequest, placerPrefix: string): { request: ServiceRequest; interaction: OrderInteraction } {
  const hisNumber = request.identifier?.find(isHisFillerNumber);
  const number: Identifier = hisNumber ?? { system: ORDER_ID_SYSTEM, value: `${placerPrefix}${request.id}` };
  const others = (request.identifier ?? []).filter((i) => i.system !== ORDER_ID_SYSTEM);
  return {
    request: { ...request, identifier: [number, ...others] },
    interaction: hisNumber ? 'POOR_IN200902UV' : 'POOR_IN200901UV',
  };
}
