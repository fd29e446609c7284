import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { circuitBreakerSchema, HttpPeer, tlsClientSchema } from '../http/http-peer';
import { DeliveryReceipt, SmsGateway } from './sms-gateway';

export const httpSmsGatewaySchema = z.object({
  /** The gateway's send endpoint. */
  url: z.string().url(),
  appId: z.string().min(1),
  /** HMAC-SHA256 key, for TypeScript channels that read it from configuration. */
  secret: z.string().min(1).optional(),
  /** For YAML channels: the environment variable holding the key. */
  secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  /** 短信签名, e.g. 【桃源医院】, approved with the carrier. */
  signName: z.string().optional(),
  timeoutMs: z.number().int().min(1).default(10_000),
  tls: tlsClientSchema.optional(),
  circuitBreaker: circuitBreakerSchema.default({ consecutiveFailures: 5, halfOpenAfterMs: 30_000 }),
}).strict();

export type HttpSmsGatewayOptions = z.input<typeof httpSmsGatewaySchema>;

const sendReply = z.object({ code: z.string(), messageId: z.string().min(1).optional(), message: z.string().optional() });
const receiptBody = z.object({
  receipts: z.array(z.object({ messageId: z.string().min(1), status: z.string(), code: z.string().optional(), time: z.string().optional() })),
});

/** The signed text: app id, timestamp, nonce and the exact body bytes, one per line. */
export function smsSignature(secret: string, appId: string, timestamp: string, nonce: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${appId}\n${timestamp}\n${nonce}\n`).update(body).digest('hex');
}

/**
 * The HTTP JSON SMS gateway: POST {appId, templateId, params, phone, signName, outId} with X-App-Id, X-Timestamp,
 * X-Nonce and X-Signature (hex HMAC-SHA256, see smsSignature) headers; the reply is {code: "0", messageId} on
 * success. Receipts arrive signed the same way as {receipts: [{messageId, status, code, time}]}, status DELIVRD on
 * delivery — the carrier SMPP vocabulary most Chinese gateways pass through.
 */
export class HttpSmsGateway implements SmsGateway {
  private readonly o: z.infer<typeof httpSmsGatewaySchema>;
  private readonly secret: string;
  private readonly peer: HttpPeer;

  constructor(options: HttpSmsGatewayOptions) {
    this.o = httpSmsGatewaySchema.parse(options);
    const secret = this.o.secret ?? (this.o.secretEnv ? process.env[this.o.secretEnv] : undefined);
    if (!secret) throw new Error(this.o.secretEnv ? `environment variable ${this.o.secretEnv} (SMS gateway key) is not set` : 'SMS gateway: secret or secretEnv is required');
    this.secret = secret;
    this.peer = new HttpPeer({ url: this.o.url, method: 'POST', timeoutMs: this.o.timeoutMs, tls: this.o.tls, circuitBreaker: this.o.circuitBreaker });
  }

  async send(templateId: string, params: Record<string, string>, phone: string, clientMessageId: string): Promise<string> {
    const body = JSON.stringify({ appId: this.o.appId, templateId, params, phone, signName: this.o.signName, outId: clientMessageId });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID();
    const reply = await this.peer.exchange(body, {
      'content-type': 'application/json; charset=utf-8',
      'x-app-id': this.o.appId,
      'x-timestamp': timestamp,
      'x-nonce': nonce,
      'x-signature': smsSignature(this.secret, this.o.appId, timestamp, nonce, body),
    }, (r) => {
      const parsed = sendReply.parse(JSON.parse(r.body));
      if (parsed.code === '0' && !parsed.messageId) throw new Error('success without a messageId');
    });
    const parsed = sendReply.parse(JSON.parse(reply.body));
    if (parsed.code !== '0') throw new Error(`SMS gateway refused template ${templateId}: ${parsed.code} ${parsed.message ?? ''}`.trim());
    return parsed.messageId!;
  }

  parseReceipts(body: Buffer, headers: IncomingHttpHeaders): DeliveryReceipt[] {
    const h = (name: string) => (typeof headers[name] === 'string' ? (headers[name] as string) : '');
    const expected = Buffer.from(smsSignature(this.secret, h('x-app-id'), h('x-timestamp'), h('x-nonce'), body));
    const given = Buffer.from(h('x-signature'));
    if (h('x-app-id') !== this.o.appId || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new Error('SMS receipt signature does not verify');
    }
    return receiptBody.parse(JSON.parse(body.toString('utf8'))).receipts.map((r) => ({
      gatewayMessageId: r.messageId,
      status: r.status.toUpperCase() === 'DELIVRD' ? 'delivered' : 'failed',
      code: r.code ?? r.status,
      at: r.time ? Date.parse(r.time) || Date.now() : Date.now(),
    }));
  }

  async close(): Promise<void> {
    await this.peer.close();
  }
}
