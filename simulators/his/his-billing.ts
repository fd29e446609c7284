import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { HisOrder, HisReceipt, HisState } from './his-state';
import { ack, receiptAck, V3Error, type V3Request } from './his-v3';

/**
 * 门诊收费 (action OutpatientCharge) and 门诊退费 (OutpatientRefund) on the HIS's HIPMessageServer. The 互联互通
 * standard has no charge message; the body is the small XML the platform and this HIS agreed on
 * (mappings/hl7v3/README.md "门诊收费 / 门诊退费"): patient, out_trade_no / out_refund_no, channel, amount in 元 and the
 * lines (医嘱号 and/or 收费明细ID, amount). The HIS checks every line against its own orders and prices, books the
 * 收费 / 退费 once per out_trade_no / out_refund_no, and answers MCCI_IN000002UV01: AA with its 收据号, or AE with the
 * reason.
 */
export const BILLING_ACTIONS = { charge: 'OutpatientCharge', refund: 'OutpatientRefund' } as const;

interface BillingLine { orderId?: string; chargeId?: string; amount: string }

export interface BillingRequest {
  kind: 'charge' | 'refund';
  messageId?: string;
  sender?: string;
  patientId: string;
  outTradeNo: string;
  outRefundNo?: string;
  transactionId?: string;
  channel?: string;
  amount: string;
  lines: BillingLine[];
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false });

type Node = Record<string, unknown>;
const textOf = (v: unknown): string | undefined => {
  const t = typeof v === 'object' && v !== null ? (v as Node)['#text'] : v;
  return typeof t === 'string' && t.trim() ? t.trim() : undefined;
};

/** 元 text → 分; the HIS's own arithmetic (simulators import nothing of the product). */
function fen(yuan: string | undefined): number | undefined {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(yuan ?? '');
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : undefined;
}

export function readBillingRequest(kind: BillingRequest['kind'], xml: string): BillingRequest {
  if (/<!\s*(DOCTYPE|ENTITY)/i.test(xml)) throw new V3Error('不接受 DTD (document type declarations are refused)');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new V3Error(`XML 格式错误: ${valid.err.msg}`);
  const rootName = kind === 'charge' ? 'OutpatientChargeRequest' : 'OutpatientRefundRequest';
  const root = (parser.parse(xml) as Node)[rootName] as Node | undefined;
  if (!root) throw new V3Error(`缺少 ${rootName} 根元素`);
  const field = (name: string) => textOf(root[name]);
  const items = (root.items as Node | undefined)?.item;
  const lines = (Array.isArray(items) ? items : items ? [items] : []).map((i: Node) => ({
    orderId: textOf(i.orderId), chargeId: textOf(i.chargeId), amount: textOf(i.amount) ?? '',
  }));
  const request: BillingRequest = {
    kind, messageId: field('messageId'), sender: field('sender'), patientId: field('patientId') ?? '', outTradeNo: field('outTradeNo') ?? '',
    outRefundNo: field('outRefundNo'), transactionId: field('transactionId'), channel: field('channel'), amount: field('amount') ?? '', lines,
  };
  if (!request.patientId) throw new V3Error('缺少患者ID patientId');
  if (!request.outTradeNo) throw new V3Error('缺少商户订单号 outTradeNo');
  if (kind === 'refund' && !request.outRefundNo) throw new V3Error('缺少商户退款单号 outRefundNo');
  if (fen(request.amount) === undefined) throw new V3Error(`金额 ${request.amount || '(空)'} 格式错误`);
  if (lines.length === 0) throw new V3Error('没有收费明细 items/item');
  return request;
}

/** The orders the lines name, checked against the patient, the prices and the state the booking needs. */
function checkedOrders(state: HisState, req: BillingRequest, needs: HisOrder['chargeStatus']): HisOrder[] {
  let total = 0;
  const orders = req.lines.map((line) => {
    const name = line.chargeId ?? line.orderId ?? '(无)';
    const order = state.orderForLine(line);
    if (!order) throw new V3Error(`医嘱 ${name} 不存在`);
    if (order.patientId !== req.patientId) throw new V3Error(`医嘱 ${name} 不属于患者 ${req.patientId}`);
    if (order.status === 'cancelled' && needs === 'unpaid') throw new V3Error(`医嘱 ${name} 已作废，不能收费`);
    if (order.chargeStatus !== needs) throw new V3Error(`医嘱 ${name} ${({ unpaid: '未收费', paid: '已收费', refunded: '已退费' })[order.chargeStatus]}，不能${req.kind === 'charge' ? '收费' : '退费'}`);
    if (req.kind === 'refund' && order.paidBy && order.paidBy !== req.outTradeNo) throw new V3Error(`医嘱 ${name} 不是订单 ${req.outTradeNo} 收的费`);
    if (fen(line.amount) !== fen(order.price)) throw new V3Error(`医嘱 ${name} 金额不符: 应为 ${order.price} 元，收到 ${line.amount || '(空)'} 元`);
    total += fen(order.price)!;
    return order;
  });
  if (total !== fen(req.amount)) throw new V3Error(`总金额不符: 明细合计 ${(total / 100).toFixed(2)} 元，收到 ${req.amount} 元`);
  return orders;
}

/** Books a 收费 / 退费 once; the same out_trade_no / out_refund_no again is answered with the receipt it got. */
export function book(state: HisState, req: BillingRequest, v3: V3Request, today: string): string {
  const number = req.kind === 'charge' ? req.outTradeNo : req.outRefundNo!;
  const known = state.receipts.get(`${req.kind}:${number}`);
  if (known) {
    const same = known.patientId === req.patientId && fen(known.amount) === fen(req.amount);
    return same ? receiptAck(`${req.kind === 'charge' ? '收费' : '退费'}已办理`, known.receiptNo, v3) : ack('AE', `${number} 已用于另一笔${req.kind === 'charge' ? '收费' : '退费'}`, v3);
  }
  const orders = checkedOrders(state, req, req.kind === 'charge' ? 'unpaid' : 'paid');
  for (const order of orders) {
    order.chargeStatus = req.kind === 'charge' ? 'paid' : 'refunded';
    if (req.kind === 'charge') order.paidBy = req.outTradeNo;
  }
  const receipt: HisReceipt = {
    receiptNo: state.newReceiptNo(today), kind: req.kind, number, patientId: req.patientId, orderIds: orders.map((o) => o.id), amount: req.amount,
    ...(req.channel ? { channel: req.channel } : {}), ...(req.transactionId ? { transactionId: req.transactionId } : {}), at: new Date().toISOString(),
  };
  state.receipts.set(`${req.kind}:${number}`, receipt);
  return receiptAck(req.kind === 'charge' ? '收费成功' : '退费成功', receipt.receiptNo, v3);
}
