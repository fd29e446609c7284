import express, { Router } from 'express';
import type { SimulatedPeer } from '../peer';
import { notifyOptions } from '../notify-options';
import { FailureSwitch, PeerHttpServer } from '../peer-http-server';
import { FAILURE_MODES, FailureMode, wechatPayApi } from './wechatpay-api';
import { WechatPayKeys, wechatPayKeys, WechatPayPeerOptions } from './wechatpay-keys';
import { deliver, Delivery, NOTIFY_TAMPERS, NotifyTamper, paymentNotice, refundNotice } from './wechatpay-notify';
import { transactionJson, WechatPayState, refundJson } from './wechatpay-state';

const KEEP_DELIVERIES = 500;

/**
 * WeChat Pay APIv3 for one merchant: JSAPI / H5 orders, query, close, refunds, trade bills, every call signed both ways,
 * notifications encrypted with the APIv3 key and signed with the platform key. The control API pays orders (sending
 * the notification N times, or spoiled on purpose), settles refunds, and makes the next calls fail.
 */
export class WechatPayPeer implements SimulatedPeer {
  readonly name = 'wechatpay';
  readonly description = 'WeChat Pay APIv3: JSAPI/H5 orders, refunds, trade bills; signed answers, AES-GCM notifications to notify_url';
  readonly state = new WechatPayState();
  readonly deliveries: Delivery[] = [];
  private keyMaterial?: WechatPayKeys;
  private readonly failures = new FailureSwitch<FailureMode>(FAILURE_MODES);
  private readonly http = new PeerHttpServer();

  constructor(private readonly options: WechatPayPeerOptions = {}) {}

  get keys(): WechatPayKeys {
    if (!this.keyMaterial) throw new Error('the WeChat Pay simulator is not started');
    return this.keyMaterial;
  }

  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.http.port}`;
  }

  async start(): Promise<Record<string, number>> {
    this.keyMaterial ??= await wechatPayKeys(this.options);
    const port = await this.http.listen(wechatPayApi({
      keys: this.keys, state: this.state, baseUrl: () => this.url,
      takeFailure: () => this.failures.take(),
      hold: (res) => this.http.hold(res),
    }), this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    return { api: port };
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  /** Makes the next `times` API calls fail the given way. */
  fail(mode: FailureMode, times: number): void {
    this.failures.set(mode, times);
  }

  /** Pays the order (once) and sends its TRANSACTION.SUCCESS notification `times` times; 0 pays silently (a lost notification). */
  async pay(outTradeNo: string, times = 1, tamper?: NotifyTamper): Promise<{ order: object; deliveries: Delivery[] } | undefined> {
    const order = this.state.orders.get(outTradeNo);
    if (!order) return undefined;
    if (order.tradeState === 'CLOSED') throw new Error(`order ${outTradeNo} is closed`);
    this.state.pay(order);
    const deliveries = times > 0 ? await deliver(this.keys, order.notifyUrl, paymentNotice(this.keys, order, tamper), times, tamper) : [];
    this.keep(deliveries);
    return { order: transactionJson(order), deliveries };
  }

  /** Ends a PROCESSING refund and sends its REFUND.* notification `times` times when the refund named a notify_url. */
  async settleRefund(outRefundNo: string, status: 'SUCCESS' | 'CLOSED' | 'ABNORMAL', times = 1, tamper?: NotifyTamper): Promise<{ refund: object; deliveries: Delivery[] } | undefined> {
    const refund = this.state.refunds.get(outRefundNo);
    if (!refund) return undefined;
    if (refund.status === 'PROCESSING') this.state.settleRefund(refund, status);
    const url = refund.notifyUrl;
    const deliveries = url && times > 0 ? await deliver(this.keys, url, refundNotice(this.keys, refund, tamper), times, tamper) : [];
    this.keep(deliveries);
    return { refund: refundJson(refund), deliveries };
  }

  control(): Router {
    const r = express.Router();
    r.get('/', (_req, res) => {
      const k = this.keys;
      res.json({
        name: this.name, url: this.url, mchid: k.mchid, appid: k.appid, apiV3Key: k.apiV3Key, failure: this.failures.armed,
        merchant: { serial: k.merchant.serial, publicKey: k.merchant.publicKeyPem, privateKey: k.merchant.privateKeyPem ?? null },
        platform: { serial: k.platform.serial, publicKey: k.platform.publicKeyPem },
      });
    });
    r.get('/orders', (_req, res) => res.json([...this.state.orders.values()]));
    r.get('/refunds', (_req, res) => res.json([...this.state.refunds.values()]));
    r.get('/notifications', (_req, res) => res.json(this.deliveries));
    r.post('/orders/:outTradeNo/pay', async (req, res) => {
      const opts = notifyOptions(req.query, NOTIFY_TAMPERS);
      if (typeof opts === 'string') return void res.status(400).json({ error: opts });
      try {
        const paid = await this.pay(req.params.outTradeNo, opts.times, opts.tamper);
        if (!paid) return void res.status(404).json({ error: `no order ${req.params.outTradeNo}` });
        res.json(paid);
      } catch (err) {
        res.status(409).json({ error: (err as Error).message });
      }
    });
    r.post('/refunds/:outRefundNo/:outcome', async (req, res) => {
      const status = ({ succeed: 'SUCCESS', close: 'CLOSED', abnormal: 'ABNORMAL' } as const)[req.params.outcome as 'succeed'];
      const opts = notifyOptions(req.query, NOTIFY_TAMPERS);
      if (!status) return void res.status(404).json({ error: 'use /refunds/{outRefundNo}/succeed|close|abnormal' });
      if (typeof opts === 'string') return void res.status(400).json({ error: opts });
      const settled = await this.settleRefund(req.params.outRefundNo, status, opts.times, opts.tamper);
      if (!settled) return void res.status(404).json({ error: `no refund ${req.params.outRefundNo}` });
      res.json(settled);
    });
    r.post('/fail', this.failures.route());
    return r;
  }

  private keep(deliveries: Delivery[]): void {
    this.deliveries.push(...deliveries);
    this.deliveries.splice(0, Math.max(0, this.deliveries.length - KEEP_DELIVERIES));
  }
}

export function wechatPayPeer(options: WechatPayPeerOptions = {}): WechatPayPeer {
  return new WechatPayPeer(options);
}
