import type { Request, Response, Router } from 'express';
import express from 'express';
import { JsonApiPeer, JsonApiPeerOptions } from '../json-api/json-api-peer';
import { pharmacyHeaders, signatureProblem } from './pharmacy-signature';
import { listenPharmacySoap, PHARMACY_SOAP_PATH, type PharmacyOutcome } from './pharmacy-soap';

export interface PharmacyPeerOptions extends JsonApiPeerOptions {
  /** appId → HMAC key of the hospitals sending prescriptions. */
  apps: Record<string, string>;
  /** Where status changes and 核销 go (a Lingshu channel), signed with the sending hospital's key. */
  callbackUrl?: string;
  /** The pharmacy's name, as it appears on pickup receipts. */
  pharmacyName?: string;
  /**
   * How this pharmacy takes prescriptions: its signed JSON web API (/api, the default), its SOAP service
   * (/soap/PrescriptionService.asmx?wsdl, as older chain platforms publish), or both.
   */
  api?: 'json' | 'soap' | 'both';
}

interface RxDrug { code: string; name: string; spec?: string; quantity: number; unit?: string; usage?: string }

export interface PharmacyOrder {
  orderId: string;
  rxNo: string;
  appId: string;
  pickupCode: string;
  patient: { id?: string; name: string; phone?: string };
  drugs: RxDrug[];
  delivery: 'pickup' | 'delivery';
  /**
   * received → accepted | rejected → dispensed (备药完成) → picked_up (核销); cancelled while not dispensed. A delivery
   * order goes out with the courier (delivering, 配送中) from accepted or dispensed, and its 签收 is the 核销.
   */
  status: 'received' | 'accepted' | 'rejected' | 'dispensed' | 'delivering' | 'picked_up' | 'cancelled';
  /** The 核销 as the callback reported it (drugs with 追溯码 and lot), answered on GET too so a lost callback can be made up. */
  redemption?: { redeemedAt: string; pharmacy: string; drugs: (RxDrug & { traceCode: string; lot: string })[] };
  receivedAt: string;
  history: { status: string; at: string; note?: string }[];
  /** What went into the first request, so that a resend with other content is caught. */
  fingerprint: string;
}

/** Which statuses each pharmacist action may start from. */
const MOVES: Record<string, PharmacyOrder['status'][]> = {
  accepted: ['received'], rejected: ['received'], dispensed: ['accepted'], delivering: ['accepted', 'dispensed'],
  picked_up: ['accepted', 'dispensed', 'delivering'], cancelled: ['received', 'accepted'],
};

/**
 * A third-party pharmacy (连锁药房) taking circulated prescriptions over a signed JSON web API: POST
 * /api/prescriptions {rxNo, pickupCode, patient, drugs[], delivery}, GET /api/prescriptions/<rxNo>, POST
 * /api/prescriptions/<rxNo>/cancel (before dispensing, for refunds); or, chosen by `api`, over SOAP with the same
 * three operations and the same signature (pharmacy-soap.ts). The pharmacist's side is on the control routes:
 * accept, reject, dispense, dispatch (a delivery order leaves with the courier) and 核销 (pickup with the code the
 * patient shows); each change is POSTed, signed, to the callback URL — the 核销 one with the drugs' 追溯码 and lots —
 * unless callbacks are switched off (POST /_sim/pharmacy/callbacks/off), as when the pharmacy's notifier is down.
 */
export class PharmacyPeer extends JsonApiPeer {
  readonly name = 'pharmacy';
  readonly description = 'Pharmacy: receives circulated prescriptions, 审方 accept/reject, dispense, pickup-code 核销 callbacks';
  readonly orders = new Map<string, PharmacyOrder>();
  private seq = 0;
  private readonly soapRouter = express.Router();
  /** Off: changes happen but nobody is told (the hospital must ask with GET /api/prescriptions/<rxNo>). */
  callbacksOn = true;

  constructor(private readonly options: PharmacyPeerOptions) {
    super(options);
  }

  private get offers(): { json: boolean; soap: boolean } {
    const api = this.options.api ?? 'json';
    return { json: api !== 'soap', soap: api !== 'json' };
  }

  get wsdlUrl(): string {
    return `${this.url}${PHARMACY_SOAP_PATH}?wsdl`;
  }

  override async start(): Promise<Record<string, number>> {
    const ports = await super.start();
    // The WSDL names the service address, known only once the port is bound; the router was mounted before.
    if (this.offers.soap) {
      await listenPharmacySoap(this.soapRouter, `${this.url}${PHARMACY_SOAP_PATH}`, this.options.apps, {
        ReceivePrescription: (appId, data) => this.receive(appId, data),
        QueryPrescription: (appId, data) => this.query(appId, String(data.rxNo ?? '')),
        CancelPrescription: (appId, data) => this.cancel(appId, String(data.rxNo ?? ''), typeof data.reason === 'string' ? data.reason : undefined),
      });
    }
    return ports;
  }

  protected override takesJson(req: Request): boolean {
    return !req.path.startsWith('/soap/');
  }

  protected override serverError(res: Response): void {
    if (!res.req.path.startsWith('/soap/')) return super.serverError(res);
    res.status(500).type('text/xml; charset=utf-8').send('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
      '<soap:Fault><faultcode>soap:Server</faultcode><faultstring>系统繁忙，请稍后重试 (simulated)</faultstring></soap:Fault></soap:Body></soap:Envelope>');
  }

  protected override malformedReply(res: Response): void {
    if (!res.req.path.startsWith('/soap/')) return super.malformedReply(res);
    res.status(200).type('text/xml; charset=utf-8').send('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
      '<ReceivePrescriptionResponse xmlns="http://pharmacy.example.cn/rx/"><code>0</code><data>{&quot;orderId&quot;:&quot;YF2026');
  }

  protected routes(app: express.Express): void {
    if (this.offers.soap) app.use('/soap', this.soapRouter);
    if (!this.offers.json) return;
    app.use('/api', (req, res, next) => {
      const problem = signatureProblem(this.options.apps[req.header('x-app-id') ?? ''], {
        appId: req.header('x-app-id'), timestamp: req.header('x-timestamp'), sign: req.header('x-sign'),
      }, res.locals.raw as Buffer);
      if (problem) return this.refuse(res, 401, 'SIGN_ERROR', problem);
      next();
    });
    const appId = (req: Request) => req.header('x-app-id') ?? '';
    app.post('/api/prescriptions', (req, res) => this.answer(res, this.receive(appId(req), req.body)));
    app.get('/api/prescriptions/:rxNo', (req, res) => this.answer(res, this.query(appId(req), req.params.rxNo)));
    app.post('/api/prescriptions/:rxNo/cancel', (req, res) =>
      this.answer(res, this.cancel(appId(req), req.params.rxNo, (req.body as { reason?: string } | undefined)?.reason)));
  }

  private answer(res: Response, o: PharmacyOutcome): void {
    if (o.code !== '0') return this.refuse(res, o.status, o.code, o.message ?? o.code);
    res.status(o.status).json({ code: '0', data: o.data });
  }

  protected override status(): Record<string, unknown> {
    return {
      apiUrl: this.offers.json ? `${this.url}/api` : null, wsdl: this.offers.soap ? this.wsdlUrl : null, callbackUrl: this.options.callbackUrl ?? null,
      callbacks: this.callbacksOn ? 'on' : 'off', appIds: Object.keys(this.options.apps),
    };
  }

  protected override controlRoutes(r: Router): void {
    for (const onOff of ['on', 'off'] as const) {
      r.post(`/callbacks/${onOff}`, (_req, res) => {
        this.callbacksOn = onOff === 'on';
        res.json({ callbacks: onOff });
      });
    }
    r.get('/prescriptions', (_req, res) => res.json([...this.orders.values()].map((o) => ({ ...this.view(o), pickupCode: o.pickupCode }))));
    for (const action of ['accept', 'reject', 'dispense', 'dispatch'] as const) {
      const to = ({ accept: 'accepted', reject: 'rejected', dispense: 'dispensed', dispatch: 'delivering' } as const)[action];
      r.post(`/prescriptions/:rxNo/${action}`, async (req, res) => {
        const order = this.orders.get(req.params.rxNo);
        if (!order) return void res.status(404).json({ error: `no prescription ${req.params.rxNo}` });
        if (!MOVES[to].includes(order.status)) return void res.status(409).json({ error: `${order.status} cannot become ${to}` });
        if (to === 'delivering' && order.delivery !== 'delivery') return void res.status(409).json({ error: `${order.rxNo} is picked up at the counter, not delivered` });
        const note = typeof req.body?.reason === 'string' ? req.body.reason : action === 'reject' ? '药品缺货' : undefined;
        this.move(order, to, note);
        res.json({ order: this.view(order), callback: await this.notify(order, { event: to, reason: note }) });
      });
    }
    // 核销: the patient shows the code at the counter; a wrong code hands out nothing and tells nobody.
    r.post('/prescriptions/:rxNo/pickup', async (req, res) => {
      const order = this.orders.get(req.params.rxNo);
      if (!order) return void res.status(404).json({ error: `no prescription ${req.params.rxNo}` });
      if (String(req.body?.pickupCode ?? '') !== order.pickupCode) return void res.status(409).json({ error: '取药码不正确' });
      if (!MOVES.picked_up.includes(order.status)) return void res.status(409).json({ error: `${order.status}: 不能核销` });
      this.move(order, 'picked_up');
      const at = new Date().toISOString();
      const drugs = order.drugs.map((d, n) => ({ ...d, traceCode: `8${Date.now().toString().slice(-10)}${String(n).padStart(2, '0')}0000000`, lot: `L${at.slice(0, 10).replace(/-/g, '')}` }));
      order.redemption = { redeemedAt: at, pharmacy: this.options.pharmacyName ?? '星湖大药房(模拟)', drugs };
      res.json({ order: this.view(order), callback: await this.notify(order, { event: 'redeemed', pickupCode: order.pickupCode, ...order.redemption }) });
    });
  }

  private receive(appId: string, body: unknown): PharmacyOutcome {
    const b = (body ?? {}) as Partial<PharmacyOrder>;
    const drugs = Array.isArray(b.drugs) ? b.drugs : [];
    const bad = drugs.findIndex((d) => !d?.code || !d?.name || !(Number(d?.quantity) > 0));
    if (!b.rxNo || !b.pickupCode || !b.patient?.name || !drugs.length || bad >= 0) {
      return refused(400, 'PARAM_ERROR', bad >= 0 ? `第 ${bad + 1} 个药品缺少 code/name/quantity` : 'rxNo, pickupCode, patient.name, drugs 必填');
    }
    const fingerprint = JSON.stringify([b.pickupCode, b.patient, drugs]);
    const known = this.orders.get(b.rxNo);
    if (known && known.appId === appId && known.fingerprint === fingerprint) return done(this.view(known));
    if (known) return refused(409, 'RX_CONFLICT', `处方 ${b.rxNo} 已接收，内容不同`);
    const at = new Date().toISOString();
    const order: PharmacyOrder = {
      orderId: `YF${at.slice(0, 10).replace(/-/g, '')}${String(++this.seq).padStart(5, '0')}`, rxNo: b.rxNo, appId, pickupCode: b.pickupCode,
      patient: b.patient, drugs, delivery: b.delivery === 'delivery' ? 'delivery' : 'pickup', status: 'received', receivedAt: at,
      history: [{ status: 'received', at }], fingerprint,
    };
    this.orders.set(order.rxNo, order);
    return done(this.view(order));
  }

  private query(appId: string, rxNo: string): PharmacyOutcome {
    const order = this.own(appId, rxNo);
    return order ? done(this.view(order)) : unknownRx(rxNo);
  }

  private cancel(appId: string, rxNo: string, reason?: string): PharmacyOutcome {
    const order = this.own(appId, rxNo);
    if (!order) return unknownRx(rxNo);
    if (order.status === 'cancelled') return done(this.view(order));
    if (!MOVES.cancelled.includes(order.status)) return refused(409, 'STATUS_ERROR', `处方 ${order.rxNo} 状态 ${order.status}，不能取消`);
    this.move(order, 'cancelled', reason);
    return done(this.view(order));
  }

  private own(appId: string, rxNo: string): PharmacyOrder | undefined {
    const order = this.orders.get(rxNo);
    // Another hospital's prescription is answered as unknown: its existence is not this caller's business.
    return order && order.appId === appId ? order : undefined;
  }

  private move(order: PharmacyOrder, status: PharmacyOrder['status'], note?: string): void {
    order.status = status;
    order.history.push({ status, at: new Date().toISOString(), ...(note ? { note } : {}) });
  }

  private async notify(order: PharmacyOrder, event: Record<string, unknown>): Promise<unknown> {
    if (!this.options.callbackUrl) return { sent: false, reason: 'no callbackUrl configured' };
    if (!this.callbacksOn) return { sent: false, reason: 'callbacks switched off' };
    const body = JSON.stringify({ ...event, rxNo: order.rxNo, orderId: order.orderId, status: order.status, at: new Date().toISOString() });
    return this.post(this.options.callbackUrl, JSON.parse(body), pharmacyHeaders(this.options.apps[order.appId] ?? '', order.appId, body), body);
  }

  private view(o: PharmacyOrder): Omit<PharmacyOrder, 'fingerprint' | 'pickupCode'> {
    // The pickup code is what releases the drugs: never echoed on the API, where a log could keep it.
    const { fingerprint: _f, pickupCode: _p, ...rest } = o;
    return rest;
  }
}

const done = (data: unknown): PharmacyOutcome => ({ status: 200, code: '0', data });
const refused = (status: number, code: string, message: string): PharmacyOutcome => ({ status, code, message });
const unknownRx = (rxNo: string) => refused(404, 'RX_NOT_FOUND', `处方 ${rxNo} 不存在`);

export function pharmacyPeer(options: PharmacyPeerOptions): PharmacyPeer {
  return new PharmacyPeer(options);
}
