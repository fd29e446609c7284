import type {
  ChargeItem, Identifier, Invoice, MedicationRequest, OperationOutcome, Patient, PaymentNotice, ServiceRequest, Task,
} from '@medplum/fhirtypes';
import { OUT_REFUND_NO_SYSTEM, OUT_TRADE_NO_SYSTEM, PAYMENT_CHANNEL_EXTENSION, TRANSACTION_ID_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { fenOf, yuanText } from '../../fhir-resources/billing/money';
import type { OutboundContext } from './mapping-context';
import { isOperationOutcome, MappingProblems } from './mapping-problems';
import { parseV3 } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';
import { fhirToTs } from './v3-time';
import { el, serializeXml, textEl, type XmlNode } from './xml-writer';

/**
 * 门诊收费 and 门诊退费 to the HIS. The 互联互通 standard has no charge message, so the body is Lingshu's own small
 * XML (mappings/hl7v3/README.md "门诊收费 / 门诊退费"), carried by the same `HIPMessageServer(action, message)`
 * service as the v3 interactions (actions OutpatientCharge / OutpatientRefund) and answered the same way: an
 * MCCI_IN000002UV01, AA with the HIS 收据号 as a coded acknowledgementDetail (codeSystem 2.16.156.10011.2.5.1.96),
 * or AE with the reason. Amounts are in 元 with two decimals, written from 分.
 */
export type HisBillingRequest = 'OutpatientChargeRequest' | 'OutpatientRefundRequest';

/** The orders the lines bill: the MedicationRequests / ServiceRequests the ChargeItems' `service` points at. */
type Order = MedicationRequest | ServiceRequest;

export interface ChargeMessageInput {
  notice: PaymentNotice;
  invoice: Invoice;
  patient: Patient;
  chargeItems: ChargeItem[];
  /** By reference (`MedicationRequest/1`). */
  orders: Record<string, Order>;
}

export interface RefundMessageInput {
  task: Task;
  invoice: Invoice;
  patient: Patient;
  /** The ChargeItems the refund Task names in its `input`. */
  chargeItems: ChargeItem[];
  orders: Record<string, Order>;
}

const ORDER_ID_SYSTEM = oidSystem(V3_OID.orderId);
const CHARGE_LINE_SYSTEM = oidSystem(V3_OID.chargeLine);
const valueOf = (ids: Identifier[] | undefined, system: string): string | undefined => ids?.find((i) => i.system === system && i.value)?.value;

function hisPatientId(patient: Patient, empiRoot: string, problems: MappingProblems): XmlNode | undefined {
  // The HIS knows the patient by its 病人ID: the EMPI id where the HIS is the master index, else its own domain id.
  for (const root of [empiRoot, V3_OID.patientId]) {
    const id = valueOf(patient.identifier, oidSystem(root));
    if (id) return textEl('patientId', id, { root });
  }
  problems.add('required', `the patient has no HIS 病人ID (identifier with system ${oidSystem(V3_OID.patientId)})`, 'Patient.identifier');
  return undefined;
}

function lines(items: ChargeItem[], orders: Record<string, Order>, problems: MappingProblems): { nodes: XmlNode[]; totalFen: number } {
  let totalFen = 0;
  const nodes = items.map((item, i) => {
    const order = orders[item.service?.[0]?.reference ?? ''];
    const orderId = valueOf(order?.identifier, ORDER_ID_SYSTEM) ?? valueOf(item.identifier, ORDER_ID_SYSTEM);
    const chargeId = valueOf(item.identifier, CHARGE_LINE_SYSTEM);
    if (!orderId && !chargeId) problems.add('required', 'the charge names neither its HIS 医嘱 ID (through its service) nor a 收费明细 ID', `ChargeItem[${i}].service`);
    const fen = fenOf(item.priceOverride);
    if (fen === undefined) problems.add('required', 'the charge has no amount (priceOverride)', `ChargeItem[${i}].priceOverride`);
    totalFen += fen ?? 0;
    const coding = item.code?.coding?.[0];
    const name = coding?.display ?? item.code?.text;
    return el('item', {},
      orderId !== undefined && textEl('orderId', orderId),
      chargeId !== undefined && textEl('chargeId', chargeId),
      coding?.code !== undefined && textEl('chargeCode', coding.code),
      name !== undefined && textEl('name', name),
      textEl('quantity', String(item.quantity?.value ?? 1)),
      textEl('amount', yuanText(fen ?? 0)));
  });
  if (items.length === 0) problems.add('required', 'there is no charge line to tell the HIS about', 'ChargeItem');
  return { nodes, totalFen };
}

const channelOf = (invoice: Invoice): string | undefined => invoice.extension?.find((e) => e.url === PAYMENT_CHANNEL_EXTENSION)?.valueCode;

function header(ctx: OutboundContext): XmlNode[] {
  return [
    textEl('messageId', ctx.messageId),
    textEl('creationTime', fhirToTs(ctx.creationTime)),
    textEl('sender', ctx.senderDevice),
    textEl('receiver', ctx.receiverDevice),
  ];
}

/** PaymentNotice (+ its Invoice, ChargeItems and their orders) → 门诊收费 (OutpatientChargeRequest). */
export function paymentToHisCharge(input: ChargeMessageInput, ctx: OutboundContext): string | OperationOutcome {
  const problems = new MappingProblems();
  const patientId = hisPatientId(input.patient, ctx.empiRoot, problems);
  const outTradeNo = valueOf(input.notice.identifier, OUT_TRADE_NO_SYSTEM) ?? valueOf(input.invoice.identifier, OUT_TRADE_NO_SYSTEM);
  if (!outTradeNo) problems.add('required', `the payment has no out_trade_no (identifier with system ${OUT_TRADE_NO_SYSTEM})`, 'PaymentNotice.identifier');
  const transactionId = valueOf(input.notice.identifier, TRANSACTION_ID_SYSTEM) ?? input.notice.payment?.identifier?.value;
  const paidFen = fenOf(input.notice.amount);
  const { nodes, totalFen } = lines(input.chargeItems, input.orders, problems);
  // The HIS books what the lines say; a payment that disagrees with them is for a person to look at, not to send.
  if (paidFen !== undefined && paidFen !== totalFen) {
    problems.add('invariant', `the payment of ${yuanText(paidFen)} 元 is not the sum of its charge lines (${yuanText(totalFen)} 元)`, 'PaymentNotice.amount');
  }
  if (problems.any) return problems.outcome();
  const paidAt = input.notice.created ?? input.notice.paymentDate;
  return serializeXml(el('OutpatientChargeRequest', { version: '1' },
    header(ctx),
    patientId,
    textEl('outTradeNo', outTradeNo!),
    transactionId !== undefined && textEl('transactionId', transactionId),
    channelOf(input.invoice) !== undefined && textEl('channel', channelOf(input.invoice)!),
    paidAt !== undefined && textEl('paidTime', fhirToTs(paidAt)),
    textEl('amount', yuanText(totalFen)),
    el('items', {}, nodes)));
}

/** A completed refund Task (+ its Invoice and the ChargeItems it names) → 门诊退费 (OutpatientRefundRequest). */
export function refundToHisRefund(input: RefundMessageInput, ctx: OutboundContext): string | OperationOutcome {
  const problems = new MappingProblems();
  const patientId = hisPatientId(input.patient, ctx.empiRoot, problems);
  const outTradeNo = valueOf(input.invoice.identifier, OUT_TRADE_NO_SYSTEM);
  if (!outTradeNo) problems.add('required', `the refunded invoice has no out_trade_no (identifier with system ${OUT_TRADE_NO_SYSTEM})`, 'Invoice.identifier');
  const outRefundNo = valueOf(input.task.identifier, OUT_REFUND_NO_SYSTEM);
  if (!outRefundNo) problems.add('required', `the refund has no out_refund_no (identifier with system ${OUT_REFUND_NO_SYSTEM})`, 'Task.identifier');
  const { nodes, totalFen } = lines(input.chargeItems, input.orders, problems);
  const stated = input.task.input?.map((i) => fenOf(i.valueMoney)).find((f) => f !== undefined);
  if (stated !== undefined && stated !== totalFen) {
    problems.add('invariant', `the refund of ${yuanText(stated)} 元 is not the sum of the lines it names (${yuanText(totalFen)} 元)`, 'Task.input');
  }
  const reason = input.task.input?.find((i) => i.valueString)?.valueString;
  if (problems.any) return problems.outcome();
  return serializeXml(el('OutpatientRefundRequest', { version: '1' },
    header(ctx),
    patientId,
    textEl('outTradeNo', outTradeNo!),
    textEl('outRefundNo', outRefundNo!),
    channelOf(input.invoice) !== undefined && textEl('channel', channelOf(input.invoice)!),
    textEl('amount', yuanText(totalFen)),
    reason !== undefined && textEl('reason', reason),
    el('items', {}, nodes)));
}

/** The HIS 收据号 from its AA answer to a 收费 / 退费; undefined for an AE or an answer without one. */
export function acknowledgedReceiptNo(xml: string): Identifier | undefined {
  const doc = parseV3(xml);
  if (isOperationOutcome(doc)) return undefined;
  const ack = doc.root.child('acknowledgement');
  if (!ack || !['AA', 'CA'].includes(ack.attr('typeCode') ?? '')) return undefined;
  const code = ack.all('acknowledgementDetail').map((d) => d.child('code')).find((c) => c?.attr('codeSystem') === V3_OID.receiptNo && c.attr('code'));
  return code ? { system: oidSystem(V3_OID.receiptNo), value: code.attr('code')! } : undefined;
}
