import crypto from 'node:crypto';
import type { WechatPayKeys } from './wechatpay-keys';
import { signedHeaders } from './wechatpay-signature';
import { refundNoticeJson, rfc3339, transactionJson, WechatOrder, WechatRefund } from './wechatpay-state';

/** How a notification can be spoiled on purpose, for the receiver's refusal paths (issue 6). */
export type NotifyTamper = 'signature' | 'amount' | 'unknown-order';
export const NOTIFY_TAMPERS: NotifyTamper[] = ['signature', 'amount', 'unknown-order'];

export interface Notice {
  id: string;
  eventType: string;
  body: string;
  forged: boolean;
}

export interface Delivery {
  at: string;
  url: string;
  id: string;
  eventType: string;
  tamper?: NotifyTamper;
  /** The receiver's HTTP status; 200/204 is the only acknowledgement (formats.md 1.3). */
  status?: number;
  answer?: string;
  error?: string;
  ms: number;
}

/** The receiver must answer within 5 seconds, else WeChat Pay counts the delivery as failed. */
const ANSWER_WITHIN_MS = 5000;

function notice(keys: WechatPayKeys, eventType: string, summary: string, originalType: 'transaction' | 'refund', resource: object, forged: boolean): Notice {
  // AEAD_AES_256_GCM with the APIv3 key; the nonce is a 12-character string used as bytes, the tag trails the ciphertext.
  const nonce = crypto.randomBytes(6).toString('hex');
  const cipher = crypto.createCipheriv('aes-256-gcm', Buffer.from(keys.apiV3Key), Buffer.from(nonce));
  cipher.setAAD(Buffer.from(originalType));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(resource)), cipher.final(), cipher.getAuthTag()]).toString('base64');
  const id = crypto.randomUUID();
  const body = JSON.stringify({
    id, create_time: rfc3339(new Date()), resource_type: 'encrypt-resource', event_type: eventType, summary,
    resource: { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: originalType, nonce },
  });
  return { id, eventType, body, forged };
}

export function paymentNotice(keys: WechatPayKeys, order: WechatOrder, tamper?: NotifyTamper): Notice {
  const resource = transactionJson(order) as { out_trade_no: string; amount: { total: number; payer_total: number } };
  if (tamper === 'amount') resource.amount = { ...resource.amount, total: resource.amount.total + 1, payer_total: resource.amount.payer_total + 1 };
  if (tamper === 'unknown-order') resource.out_trade_no = `UNKNOWN${Date.now()}`;
  return notice(keys, 'TRANSACTION.SUCCESS', '支付成功', 'transaction', resource, tamper === 'signature');
}

export function refundNotice(keys: WechatPayKeys, refund: WechatRefund, tamper?: NotifyTamper): Notice {
  const resource = refundNoticeJson(refund, keys.mchid) as { out_trade_no: string; amount: { refund: number; payer_refund: number } };
  if (tamper === 'amount') resource.amount = { ...resource.amount, refund: resource.amount.refund + 1, payer_refund: resource.amount.payer_refund + 1 };
  if (tamper === 'unknown-order') resource.out_trade_no = `UNKNOWN${Date.now()}`;
  const event = { SUCCESS: ['REFUND.SUCCESS', '退款成功'], CLOSED: ['REFUND.CLOSED', '退款关闭'], ABNORMAL: ['REFUND.ABNORMAL', '退款异常'], PROCESSING: ['REFUND.SUCCESS', '退款成功'] }[refund.status];
  return notice(keys, event[0], event[1], 'refund', resource, tamper === 'signature');
}

async function deliverOnce(keys: WechatPayKeys, url: string, n: Notice, tamper?: NotifyTamper): Promise<Delivery> {
  const started = Date.now();
  const base = { at: new Date(started).toISOString(), url, id: n.id, eventType: n.eventType, tamper };
  try {
    // Each delivery is signed afresh (its own timestamp and nonce), as WeChat Pay's retries are.
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'Mozilla/4.0', ...signedHeaders(keys, n.body, n.forged) },
      body: n.body,
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    return { ...base, status: res.status, answer: (await res.text()).slice(0, 500), ms: Date.now() - started };
  } catch (err) {
    return { ...base, error: (err as Error).name === 'TimeoutError' ? `no answer within ${ANSWER_WITHIN_MS} ms` : (err as Error).message, ms: Date.now() - started };
  }
}

/**
 * Sends the same notification `times` times at once: duplicates racing each other is what a receiver must survive
 * (WeChat Pay re-sends whenever an answer is late, so copies overlap).
 */
export async function deliver(keys: WechatPayKeys, url: string, n: Notice, times: number, tamper?: NotifyTamper): Promise<Delivery[]> {
  return Promise.all(Array.from({ length: times }, () => deliverOnce(keys, url, n, tamper)));
}
