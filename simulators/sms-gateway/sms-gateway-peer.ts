import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import express from 'express';
import { JsonApiPeer, JsonApiPeerOptions } from '../json-api/json-api-peer';
import { DEFAULT_SMS_TEMPLATES, missingParams, renderSms } from './sms-templates';

export interface SmsGatewayPeerOptions extends JsonApiPeerOptions {
  /** appId → HMAC-SHA256 key of each caller the gateway knows. */
  apps: Record<string, string>;
  /** Where delivery receipts go (Lingshu's sms-receipts channel); none = receipts only on the control route's say. */
  receiptUrl?: string;
  /** Delay before the automatic receipt; absent = no automatic receipts. */
  receiptDelayMs?: number;
  templates?: Record<string, string>;
}

export interface SmsRecord {
  messageId: string;
  appId: string;
  outId?: string;
  templateId: string;
  params: Record<string, string>;
  phone: string;
  text: string;
  submittedAt: string;
  /** SMPP-style report once a receipt was sent: DELIVRD, UNDELIV … */
  report?: string;
}

export const SMS_SEND_PATH = '/sms/send';
/** Requests older or newer than this are replays or a wrong clock. */
const CLOCK_SKEW_S = 300;
const MOBILE = /^(\+?86)?1[3-9]\d{9}$/;

/** Same text as the product's adapter signs: app id, timestamp, nonce, one per line, then the exact body bytes. */
export function gatewaySignature(secret: string, appId: string, timestamp: string, nonce: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${appId}\n${timestamp}\n${nonce}\n`).update(body).digest('hex');
}

/**
 * An SMS gateway in the style of the domestic cloud SMS services: POST /sms/send with {appId, templateId, params,
 * phone, signName, outId} signed in X-App-Id / X-Timestamp / X-Nonce / X-Signature headers, answered {code: "0",
 * messageId}; business refusals (unknown template, missing param, bad number) come back HTTP 200 with a non-zero code,
 * as those services answer them, and a bad signature as HTTP 401. Receipts go to the configured URL signed the same
 * way, status DELIVRD or UNDELIV.
 */
export class SmsGatewayPeer extends JsonApiPeer {
  readonly name = 'sms-gateway';
  readonly description = 'SMS gateway: templated SMS with HMAC-SHA256 signed requests, gateway message ids, signed delivery receipts';
  readonly messages = new Map<string, SmsRecord>();
  private readonly templates: Record<string, string>;
  private readonly seenNonces = new Map<string, number>();
  private readonly unreachable = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private seq = 0;

  constructor(private readonly options: SmsGatewayPeerOptions) {
    super(options);
    this.templates = { ...(options.templates ?? DEFAULT_SMS_TEMPLATES) };
  }

  protected routes(app: express.Express): void {
    app.post(SMS_SEND_PATH, (req, res) => this.send(req, res));
  }

  override async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await super.stop();
  }

  protected override status(): Record<string, unknown> {
    return { sendUrl: `${this.url}${SMS_SEND_PATH}`, appIds: Object.keys(this.options.apps), receiptUrl: this.options.receiptUrl ?? null, templates: this.templates };
  }

  protected override controlRoutes(r: Router): void {
    r.get('/messages', (_req, res) => res.json([...this.messages.values()]));
    r.post('/messages/:id/receipt', async (req, res) => {
      const sms = this.messages.get(req.params.id);
      if (!sms) return void res.status(404).json({ error: `no SMS ${req.params.id}` });
      const status = typeof req.body?.status === 'string' ? req.body.status : 'DELIVRD';
      res.json(await this.sendReceipt(sms, status));
    });
    // The next SMS to this number is reported UNDELIV (关机, 空号), which is what a receipt is there to tell.
    r.post('/unreachable', (req, res) => {
      const phone = String(req.body?.phone ?? '');
      if (!MOBILE.test(phone)) return void res.status(400).json({ error: 'phone: a mainland mobile number' });
      this.unreachable.add(phone);
      res.json({ unreachable: [...this.unreachable] });
    });
    r.put('/templates/:id', (req, res) => {
      if (typeof req.body?.text !== 'string') return void res.status(400).json({ error: 'text is required' });
      this.templates[req.params.id] = req.body.text;
      res.json({ id: req.params.id, text: req.body.text });
    });
  }

  /** Sends one receipt for an SMS to the configured URL, signed with the app's key. */
  async sendReceipt(sms: SmsRecord, status: string): Promise<unknown> {
    sms.report = status;
    const url = this.options.receiptUrl;
    if (!url) return { report: status, sent: false, reason: 'no receiptUrl configured' };
    const body = JSON.stringify({ receipts: [{ messageId: sms.messageId, status, code: status, time: new Date().toISOString() }] });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID();
    return this.post(url, JSON.parse(body), {
      'x-app-id': sms.appId, 'x-timestamp': timestamp, 'x-nonce': nonce,
      'x-signature': gatewaySignature(this.options.apps[sms.appId] ?? '', sms.appId, timestamp, nonce, body),
    }, body);
  }

  private send(req: Request, res: Response): void {
    const refusal = this.checkSignature(req, res.locals.raw as Buffer);
    if (refusal) return this.refuse(res, 401, '401', refusal);
    const b = (req.body ?? {}) as { appId?: string; templateId?: string; params?: Record<string, unknown>; phone?: string; signName?: string; outId?: string };
    const business = (code: string, message: string) => {
      res.locals.outcome = `refused: ${message}`;
      res.json({ code, message });
    };
    if (b.appId !== req.header('x-app-id')) return business('1001', 'appId in the body differs from X-App-Id');
    const template = b.templateId ? this.templates[b.templateId] : undefined;
    if (!template) return business('1002', `模板 ${b.templateId ?? '(无)'} 不存在或未审核`);
    if (!b.phone || !MOBILE.test(b.phone)) return business('1003', '手机号码格式错误');
    const params = b.params && typeof b.params === 'object' ? b.params : {};
    const missing = missingParams(template, params);
    if (missing.length) return business('1004', `模板变量缺少: ${missing.join(', ')}`);
    const again = b.outId ? [...this.messages.values()].find((m) => m.appId === b.appId && m.outId === b.outId) : undefined;
    if (again) {
      // A caller's retry after a lost answer gets the first id back and no second SMS reaches the patient.
      res.locals.outcome = `repeat of ${again.messageId}`;
      return void res.json({ code: '0', messageId: again.messageId, message: 'OK' });
    }
    const sms: SmsRecord = {
      messageId: `GW${new Date().toISOString().slice(0, 10).replace(/-/g, '')}${String(++this.seq).padStart(8, '0')}`,
      appId: b.appId!, outId: b.outId, templateId: b.templateId!, phone: b.phone,
      params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
      text: renderSms(b.signName, template, params), submittedAt: new Date().toISOString(),
    };
    this.messages.set(sms.messageId, sms);
    res.locals.outcome = `submitted ${sms.messageId}`;
    res.json({ code: '0', messageId: sms.messageId, message: 'OK' });
    this.scheduleReceipt(sms);
  }

  private scheduleReceipt(sms: SmsRecord): void {
    const delay = this.options.receiptDelayMs;
    if (delay === undefined || delay < 0 || !this.options.receiptUrl) return;
    const status = this.unreachable.delete(sms.phone) ? 'UNDELIV' : 'DELIVRD';
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.sendReceipt(sms, status);
    }, delay);
    this.timers.add(timer);
  }

  /** Returns why the request's signature is not acceptable, or undefined. */
  private checkSignature(req: Request, raw: Buffer): string | undefined {
    const appId = req.header('x-app-id') ?? '';
    const timestamp = req.header('x-timestamp') ?? '';
    const nonce = req.header('x-nonce') ?? '';
    const secret = this.options.apps[appId];
    if (!secret) return `unknown appId ${appId || '(none)'}`;
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > CLOCK_SKEW_S) return 'X-Timestamp missing or outside ±300 s';
    if (!nonce) return 'X-Nonce missing';
    const expected = Buffer.from(gatewaySignature(secret, appId, timestamp, nonce, raw));
    const given = Buffer.from(req.header('x-signature') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not verify';
    const now = Date.now();
    for (const [n, at] of this.seenNonces) if (now - at > CLOCK_SKEW_S * 1000) this.seenNonces.delete(n);
    if (this.seenNonces.has(`${appId}:${nonce}`)) return 'nonce already used (replay)';
    this.seenNonces.set(`${appId}:${nonce}`, now);
    return undefined;
  }
}

export function smsGatewayPeer(options: SmsGatewayPeerOptions): SmsGatewayPeer {
  return new SmsGatewayPeer(options);
}
