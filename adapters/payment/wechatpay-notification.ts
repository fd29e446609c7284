import crypto from 'node:crypto';
import { z } from 'zod';
import { NotificationRefused, NotificationRequest, PaymentNotification } from './payment-gateway';
import { firstIssue, refundStatusOf, tradeStatusOf, wechatRefundNotice, wechatTransaction } from './wechatpay-objects';
import { PlatformKey, verifyWechatpaySignature } from './wechatpay-signing';

const envelope = z.object({
  id: z.string().optional(),
  event_type: z.string().min(1),
  resource_type: z.string().optional(),
  resource: z.object({
    algorithm: z.literal('AEAD_AES_256_GCM'),
    ciphertext: z.string().min(1),
    nonce: z.string().min(1),
    associated_data: z.string().optional(),
    original_type: z.string().optional(),
  }),
});

const GCM_TAG_BYTES = 16;

/**
 * AEAD_AES_256_GCM with the APIv3 key (formats.md 1.3): the nonce and associated_data are used as their UTF-8 bytes,
 * the last 16 bytes of the Base64-decoded ciphertext are the tag.
 */
export function decryptResource(apiV3Key: string, r: { ciphertext: string; nonce: string; associated_data?: string }): string {
  const data = Buffer.from(r.ciphertext, 'base64');
  if (data.length <= GCM_TAG_BYTES) throw new Error('ciphertext shorter than the GCM tag');
  const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(r.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(r.associated_data ?? '', 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - GCM_TAG_BYTES));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - GCM_TAG_BYTES)), decipher.final()]).toString('utf8');
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new NotificationRefused('malformed', `${what} is not JSON`);
  }
}

/**
 * A WeChat Pay notification as it arrived: the platform signature over the raw body first (nothing in an unverified
 * body is read), then the envelope, then the resource decrypted with the APIv3 key. TRANSACTION.SUCCESS is a payment,
 * REFUND.SUCCESS / REFUND.CLOSED / REFUND.ABNORMAL a refund; any other event is refused as malformed.
 */
export function parseWechatNotification(platform: PlatformKey, apiV3Key: string, request: NotificationRequest, nowMs = Date.now()): PaymentNotification {
  const header = (name: string) => {
    const hit = Object.entries(request.headers).find(([k]) => k.toLowerCase() === name);
    return hit?.[1];
  };
  const problem = verifyWechatpaySignature(platform, header, request.body, nowMs);
  if (problem) throw new NotificationRefused(problem.reason, problem.message);

  const parsed = envelope.safeParse(json(request.body.toString('utf8'), 'the notification body'));
  if (!parsed.success) throw new NotificationRefused('malformed', `notification ${firstIssue(parsed.error)}`);
  const n = parsed.data;
  let plain: string;
  try {
    plain = decryptResource(apiV3Key, n.resource);
  } catch (err) {
    throw new NotificationRefused('decrypt', `resource does not decrypt with the APIv3 key (${(err as Error).message})`);
  }
  const resource = json(plain, 'the decrypted resource');

  if (n.event_type === 'TRANSACTION.SUCCESS') {
    const t = wechatTransaction.safeParse(resource);
    if (!t.success) throw new NotificationRefused('malformed', `transaction ${firstIssue(t.error)}`);
    return { kind: 'payment', notificationId: n.id, trade: tradeStatusOf(t.data) };
  }
  if (n.event_type.startsWith('REFUND.')) {
    const r = wechatRefundNotice.safeParse(resource);
    if (!r.success) throw new NotificationRefused('malformed', `refund ${firstIssue(r.error)}`);
    const { refund_status: status, ...rest } = r.data;
    return { kind: 'refund', notificationId: n.id, refund: refundStatusOf({ ...rest, status }) };
  }
  throw new NotificationRefused('malformed', `event_type ${n.event_type.slice(0, 40)} is not a payment or refund event`);
}
