import express, { Router } from 'express';
import type { SimulatedPeer } from '../peer';
import { notifyOptions } from '../notify-options';
import { FailureSwitch, PeerHttpServer } from '../peer-http-server';
import { alipayApi, FAILURE_MODES, FailureMode } from './alipay-gateway';
import { AlipayKeys, alipayKeys, AlipayPeerOptions } from './alipay-keys';
import { deliver, Delivery, NOTIFY_TAMPERS, NotifyTamper, paymentParams, refundParams, signNotification } from './alipay-notify';
import { AlipayState } from './alipay-state';

const KEEP_DELIVERIES = 500;

/**
 * Alipay's OpenAPI gateway for one application: trade create / query / close / refund / refund query and the trade
 * bill download URL, RSA2 both ways; form-encoded RSA2 notifications to the trade's notify_url. The control API pays
 * trades (notifying N times, or spoiled on purpose), holds refunds unpaid and completes them, and makes calls fail.
 */
export class AlipayPeer implements SimulatedPeer {
  readonly name = 'alipay';
  readonly description = 'Alipay OpenAPI gateway (/gateway.do): trade create/query/refund, bill zip (GBK); RSA2 notifications to notify_url';
  readonly state = new AlipayState();
  readonly deliveries: Delivery[] = [];
  private keyMaterial?: AlipayKeys;
  private readonly failures = new FailureSwitch<FailureMode>(FAILURE_MODES);
  private deferredRefunds = 0;
  private readonly http = new PeerHttpServer();

  constructor(private readonly options: AlipayPeerOptions = {}) {}

  get keys(): AlipayKeys {
    if (!this.keyMaterial) throw new Error('the Alipay simulator is not started');
    return this.keyMaterial;
  }

  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.http.port}`;
  }

  async start(): Promise<Record<string, number>> {
    this.keyMaterial ??= await alipayKeys(this.options);
    const port = await this.http.listen(alipayApi({
      keys: this.keys, state: this.state, baseUrl: () => this.url,
      takeFailure: () => this.failures.take(),
      hold: (res) => this.http.hold(res),
      takeRefundDeferral: () => (this.deferredRefunds > 0 ? (this.deferredRefunds--, true) : false),
    }), this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    return { gateway: port };
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  fail(mode: FailureMode, times: number): void {
    this.failures.set(mode, times);
  }

  /** Pays the trade (once) and sends its TRADE_SUCCESS notification `times` times; 0 pays silently (a lost notification). */
  async pay(outTradeNo: string, times = 1, tamper?: NotifyTamper): Promise<{ trade: object; deliveries: Delivery[] } | undefined> {
    const trade = this.state.trades.get(outTradeNo);
    if (!trade) return undefined;
    if (trade.status === 'TRADE_CLOSED' && !trade.paidAt) throw new Error(`trade ${outTradeNo} is closed`);
    this.state.pay(trade);
    const params = signNotification(this.keys, paymentParams(this.keys, trade), tamper);
    const deliveries = trade.notifyUrl && times > 0 ? await deliver(trade.notifyUrl, params, times, tamper) : [];
    this.keep(deliveries);
    return { trade, deliveries };
  }

  /** Pays out a refund held by /refunds/defer (or re-notifies a paid one) and notifies the trade's notify_url. */
  async completeRefund(outRequestNo: string, times = 1, tamper?: NotifyTamper): Promise<{ refund: object; deliveries: Delivery[] } | undefined> {
    const refund = this.state.refunds.find((r) => r.outRequestNo === outRequestNo);
    if (!refund) return undefined;
    this.state.complete(refund);
    const trade = this.state.trades.get(refund.outTradeNo)!;
    const params = signNotification(this.keys, refundParams(this.keys, this.state, trade, refund), tamper);
    const deliveries = trade.notifyUrl && times > 0 ? await deliver(trade.notifyUrl, params, times, tamper) : [];
    this.keep(deliveries);
    return { refund, deliveries };
  }

  control(): Router {
    const r = express.Router();
    r.get('/', (_req, res) => {
      const k = this.keys;
      res.json({
        name: this.name, url: this.url, gateway: `${this.url}/gateway.do`, appId: k.appId, pid: k.pid, failure: this.failures.armed,
        deferredRefunds: this.deferredRefunds,
        app: { publicKey: k.app.publicKeyPem, privateKey: k.app.privateKeyPem ?? null },
        alipay: { publicKey: k.alipay.publicKeyPem },
      });
    });
    r.get('/orders', (_req, res) => res.json([...this.state.trades.values()]));
    r.get('/refunds', (_req, res) => res.json(this.state.refunds));
    r.get('/notifications', (_req, res) => res.json(this.deliveries));
    r.post('/orders/:outTradeNo/pay', async (req, res) => {
      const opts = notifyOptions(req.query, NOTIFY_TAMPERS);
      if (typeof opts === 'string') return void res.status(400).json({ error: opts });
      try {
        const paid = await this.pay(req.params.outTradeNo, opts.times, opts.tamper);
        if (!paid) return void res.status(404).json({ error: `no trade ${req.params.outTradeNo}` });
        res.json(paid);
      } catch (err) {
        res.status(409).json({ error: (err as Error).message });
      }
    });
    r.post('/refunds/defer', (req, res) => {
      const times = Number(req.query.times ?? 1);
      if (!Number.isInteger(times) || times < 0) return void res.status(400).json({ error: 'use ?times=N' });
      this.deferredRefunds = times;
      res.json({ deferredRefunds: times });
    });
    r.post('/refunds/:outRequestNo/succeed', async (req, res) => {
      const opts = notifyOptions(req.query, NOTIFY_TAMPERS);
      if (typeof opts === 'string') return void res.status(400).json({ error: opts });
      const done = await this.completeRefund(req.params.outRequestNo, opts.times, opts.tamper);
      if (!done) return void res.status(404).json({ error: `no refund ${req.params.outRequestNo}` });
      res.json(done);
    });
    r.post('/fail', this.failures.route());
    return r;
  }

  private keep(deliveries: Delivery[]): void {
    this.deliveries.push(...deliveries);
    this.deliveries.splice(0, Math.max(0, this.deliveries.length - KEEP_DELIVERIES));
  }
}

export function alipayPeer(options: AlipayPeerOptions = {}): AlipayPeer {
  return new AlipayPeer(options);
}
