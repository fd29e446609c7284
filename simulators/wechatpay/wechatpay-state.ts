import crypto from 'node:crypto';

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED';
export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

export interface WechatOrder {
  appid: string;
  mchid: string;
  outTradeNo: string;
  description: string;
  attach?: string;
  notifyUrl: string;
  /** 分 */
  total: number;
  currency: string;
  openid: string;
  tradeType: 'JSAPI' | 'MWEB';
  prepayId: string;
  createdAt: Date;
  tradeState: TradeState;
  transactionId?: string;
  successTime?: Date;
}

export interface WechatRefund {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  transactionId: string;
  reason?: string;
  notifyUrl?: string;
  /** 分 */
  refund: number;
  total: number;
  currency: string;
  status: RefundStatus;
  createdAt: Date;
  successTime?: Date;
}

const BEIJING_MS = 8 * 3600_000;
const beijing = (d: Date) => new Date(d.getTime() + BEIJING_MS).toISOString();
/** WeChat Pay speaks China Standard Time everywhere: RFC3339 with +08:00, bills by the Beijing calendar day. */
export const rfc3339 = (d: Date) => `${beijing(d).slice(0, 19)}+08:00`;
export const billTime = (d: Date) => beijing(d).slice(0, 19).replace('T', ' ');
export const billDate = (d: Date) => beijing(d).slice(0, 10);
const compact = (d: Date) => beijing(d).slice(0, 19).replace(/[-T:]/g, '');
const digits = (n: number) => Array.from({ length: n }, () => crypto.randomInt(10)).join('');

/** Orders and refunds of the merchant, as the gateway keeps them; what a bill day lists is derived from them. */
export class WechatPayState {
  readonly orders = new Map<string, WechatOrder>();
  readonly refunds = new Map<string, WechatRefund>();
  /** Bills of days that are over, frozen the first time they are asked for: a bill is never regenerated. */
  readonly frozenBills = new Map<string, string>();

  addOrder(o: Omit<WechatOrder, 'prepayId' | 'createdAt' | 'tradeState'>): WechatOrder {
    const now = new Date();
    const order: WechatOrder = { ...o, prepayId: `wx${compact(now)}${crypto.randomBytes(10).toString('hex')}`, createdAt: now, tradeState: 'NOTPAY' };
    this.orders.set(order.outTradeNo, order);
    return order;
  }

  byTransactionId(id: string): WechatOrder | undefined {
    return [...this.orders.values()].find((o) => o.transactionId === id);
  }

  /** Pays an unpaid order; paying a paid one changes nothing, so a notification can be sent again. */
  pay(order: WechatOrder, at = new Date()): WechatOrder {
    if (order.tradeState !== 'NOTPAY') return order;
    order.tradeState = 'SUCCESS';
    order.successTime = at;
    order.transactionId = `42000${digits(5)}${compact(at).slice(0, 8)}${digits(10)}`;
    return order;
  }

  /** 分 still refundable: the total less every refund that is not CLOSED. */
  refundable(order: WechatOrder): number {
    const taken = [...this.refunds.values()].filter((r) => r.outTradeNo === order.outTradeNo && r.status !== 'CLOSED').reduce((s, r) => s + r.refund, 0);
    return order.total - taken;
  }

  addRefund(order: WechatOrder, r: { outRefundNo: string; refund: number; reason?: string; notifyUrl?: string }): WechatRefund {
    const refund: WechatRefund = {
      ...r, refundId: `503${digits(26)}`, outTradeNo: order.outTradeNo, transactionId: order.transactionId!,
      total: order.total, currency: order.currency, status: 'PROCESSING', createdAt: new Date(),
    };
    this.refunds.set(refund.outRefundNo, refund);
    order.tradeState = 'REFUND';
    return refund;
  }

  settleRefund(refund: WechatRefund, status: Exclude<RefundStatus, 'PROCESSING'>): WechatRefund {
    refund.status = status;
    if (status === 'SUCCESS') refund.successTime = new Date();
    return refund;
  }
}

/** The transaction object of the query API and of the TRANSACTION.SUCCESS resource. */
export function transactionJson(o: WechatOrder): Record<string, unknown> {
  const paid = o.tradeState === 'SUCCESS' || o.tradeState === 'REFUND';
  return {
    appid: o.appid, mchid: o.mchid, out_trade_no: o.outTradeNo,
    ...(paid ? { transaction_id: o.transactionId, bank_type: 'OTHERS', success_time: rfc3339(o.successTime!) } : {}),
    trade_type: o.tradeType, trade_state: o.tradeState,
    trade_state_desc: { NOTPAY: '订单未支付', SUCCESS: '支付成功', REFUND: '订单发生过退款', CLOSED: '订单已关闭' }[o.tradeState],
    attach: o.attach ?? '',
    payer: { openid: o.openid },
    amount: paid ? { total: o.total, payer_total: o.total, currency: o.currency, payer_currency: o.currency } : { total: o.total, currency: o.currency },
  };
}

/** The refund object of the refund APIs. */
export function refundJson(r: WechatRefund): Record<string, unknown> {
  return {
    refund_id: r.refundId, out_refund_no: r.outRefundNo, transaction_id: r.transactionId, out_trade_no: r.outTradeNo,
    channel: 'ORIGINAL', user_received_account: '支付用户零钱', ...(r.successTime ? { success_time: rfc3339(r.successTime) } : {}),
    create_time: rfc3339(r.createdAt), status: r.status, funds_account: 'AVAILABLE',
    amount: {
      total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund,
      settlement_total: r.total, settlement_refund: r.refund, discount_refund: 0, currency: r.currency, from: [],
    },
    promotion_detail: [],
  };
}

/** The decrypted resource of REFUND.* notifications (a narrower object than the API's). */
export function refundNoticeJson(r: WechatRefund, mchid: string): Record<string, unknown> {
  return {
    mchid, out_trade_no: r.outTradeNo, transaction_id: r.transactionId, out_refund_no: r.outRefundNo, refund_id: r.refundId,
    refund_status: r.status, ...(r.successTime ? { success_time: rfc3339(r.successTime) } : {}), user_received_account: '支付用户零钱',
    amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
  };
}
