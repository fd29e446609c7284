import crypto from 'node:crypto';
import type { AlipayKeys } from './alipay-keys';
import { rsa2Sign, signContent } from './alipay-signature';
import { AlipayRefund, AlipayState, AlipayTrade, alipayTime, beijingDate, fen, yuan } from './alipay-state';

/** How a notification can be spoiled on purpose, for the receiver's refusal paths (issue 6). */
export type NotifyTamper = 'signature' | 'amount' | 'unknown-order';
export const NOTIFY_TAMPERS: NotifyTamper[] = ['signature', 'amount', 'unknown-order'];

export interface Delivery {
  at: string;
  url: string;
  notifyId: string;
  outTradeNo: string;
  tradeStatus: string;
  tamper?: NotifyTamper;
  status?: number;
  answer?: string;
  /** Only the plain body `success` acknowledges; anything else is retried by Alipay (formats.md 2.2). */
  acknowledged: boolean;
  error?: string;
  ms: number;
}

const ANSWER_WITHIN_MS = 5000;

function tradeParams(keys: AlipayKeys, t: AlipayTrade): Record<string, string> {
  const now = new Date();
  return {
    notify_time: alipayTime(now), notify_type: 'trade_status_sync',
    notify_id: `${beijingDate(now).replace(/-/g, '')}00222${alipayTime(now).slice(11).replace(/:/g, '')}${crypto.randomInt(1e9, 1e10 - 1)}${crypto.randomInt(1e3, 1e4 - 1)}`,
    charset: 'utf-8', version: '1.0', sign_type: 'RSA2', auth_app_id: keys.appId, app_id: keys.appId,
    trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_id: t.buyerId, buyer_logon_id: t.buyerLogonId, seller_id: keys.pid,
    trade_status: t.status, total_amount: yuan(t.total), receipt_amount: yuan(t.total), invoice_amount: yuan(t.total),
    buyer_pay_amount: yuan(t.total), point_amount: '0.00', subject: t.subject, ...(t.body ? { body: t.body } : {}),
    gmt_create: alipayTime(t.createdAt), ...(t.paidAt ? { gmt_payment: alipayTime(t.paidAt) } : {}),
    ...(t.closedAt ? { gmt_close: alipayTime(t.closedAt) } : {}),
    fund_bill_list: JSON.stringify([{ amount: yuan(t.total), fundChannel: 'ALIPAYACCOUNT' }]),
  };
}

/** The TRADE_SUCCESS notification of a payment. */
export function paymentParams(keys: AlipayKeys, t: AlipayTrade): Record<string, string> {
  return tradeParams(keys, t);
}

/** A refund's notification: the trade's, with out_biz_no, the refunded total so far and gmt_refund. */
export function refundParams(keys: AlipayKeys, state: AlipayState, t: AlipayTrade, r: AlipayRefund): Record<string, string> {
  const refunded = state.refundsOf(t).filter((x) => x.done).reduce((s, x) => s + x.refund, 0);
  return { ...tradeParams(keys, t), out_biz_no: r.outRequestNo, refund_fee: yuan(refunded), gmt_refund: `${alipayTime(r.refundedAt ?? r.createdAt)}.000` };
}

/** Signs the parameters (RSA2 over all but sign and sign_type) after spoiling them if asked. */
export function signNotification(keys: AlipayKeys, params: Record<string, string>, tamper?: NotifyTamper): Record<string, string> {
  const p = { ...params };
  if (tamper === 'amount') p.total_amount = p.receipt_amount = p.buyer_pay_amount = yuan(fen(p.total_amount)! + 1);
  if (tamper === 'unknown-order') p.out_trade_no = `UNKNOWN${Date.now()}`;
  const content = signContent(p, ['sign', 'sign_type']);
  return { ...p, sign: rsa2Sign(keys.alipay.privateKey, tamper === 'signature' ? `${content}&x=1` : content) };
}

async function deliverOnce(url: string, params: Record<string, string>, tamper?: NotifyTamper): Promise<Delivery> {
  const started = Date.now();
  const base = { at: new Date(started).toISOString(), url, notifyId: params.notify_id, outTradeNo: params.out_trade_no, tradeStatus: params.trade_status, tamper };
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(params).toString(),
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    const answer = (await res.text()).slice(0, 500);
    return { ...base, status: res.status, answer, acknowledged: answer.trim() === 'success', ms: Date.now() - started };
  } catch (err) {
    const error = (err as Error).name === 'TimeoutError' ? `no answer within ${ANSWER_WITHIN_MS} ms` : (err as Error).message;
    return { ...base, acknowledged: false, error, ms: Date.now() - started };
  }
}

/** The same notification (same notify_id) `times` times at once, as overlapping re-sends arrive. */
export async function deliver(url: string, params: Record<string, string>, times: number, tamper?: NotifyTamper): Promise<Delivery[]> {
  return Promise.all(Array.from({ length: times }, () => deliverOnce(url, params, tamper)));
}
