import express, { Router } from 'express';
import * as soap from 'soap';
import type { SimulatedPeer } from '../peer';
import { FailureSwitch, PeerHttpServer } from '../peer-http-server';
import { BILLING_ACTIONS, book, readBillingRequest, type BillingRequest } from './his-billing';
import { HisDictionary } from './his-dictionary';
import { DEMO_DRUGS, DEMO_EXAMS, drugOrder, serviceOrder, type DrugLine, type ServiceLine } from './his-demo-orders';
import { adtMessage, ormMessage, type AdtEvent } from './his-hl7v2';
import { HisMllpSender, type MllpTarget, type SentV2 } from './his-mllp-sender';
import { applicationPush, prescriptionPush } from './his-order-push';
import { HisPatient, HisState } from './his-state';
import * as v3 from './his-v3';
import { hisWsdl } from './his-wsdl';

export interface HisPeerOptions {
  /** SOAP port; 0 = any free port. */
  port?: number;
  /** Address to bind and to advertise in the WSDL. */
  host?: string;
  /**
   * Lingshu's 互联互通 endpoint, where the HIS pushes 个人信息注册 (e.g. http://127.0.0.1:8080/channels/hip?wsdl), and
   * the one for new 医嘱 / 处方 (`ordersWsdl`, e.g. …/channels/his-orders?wsdl; `wsdl` when absent).
   */
  lingshu?: { wsdl: string; ordersWsdl?: string; soapVersion?: '1.1' | '1.2'; timeoutMs?: number };
  /**
   * Lingshu's HL7 v2 listener for ADT and ORM over MLLP (the his-patients-adt channel, port 2580), for the HIS
   * interface that speaks v2; without it the HIS speaks only SOAP.
   */
  mllp?: MllpTarget;
  /** Start with the sample patients and orders. */
  seed?: boolean;
}

export type FailureMode = 'timeout' | '500' | 'malformed';

export interface ReceivedCall {
  at: string;
  action: string;
  interaction?: string;
  messageId?: string;
  /** What the HIS answered: AA, AE, or the failure it was told to simulate. */
  outcome: string;
  /** The answer's text: 成功, or the reason of an AE. */
  text?: string;
  /** For a 收费 / 退费: what it was asked to book. */
  billing?: Pick<BillingRequest, 'patientId' | 'outTradeNo' | 'outRefundNo' | 'transactionId' | 'channel' | 'amount' | 'lines'>;
}

export const HIS_SOAP_PATH = '/HISService.asmx';
const ACTION_OF_REGISTRATION = 'PatientInfoRegister';
const ACTION_OF_ORDER = 'OrderInfoRegister';
const DEMO_DOCTOR = { id: 'D1024', name: '覃海峰' };
const KEEP_RECEIVED = 200;

/**
 * A HIS that serves the 互联互通 services over SOAP (`HIPMessageServer(action, message)` with HL7 v3 inside):
 * 个人信息注册/更新/查询 (PRPA_IN201311UV02 / 201314UV02 / 201305UV02), 申请单 新增/更新 from the platform
 * (POOR_IN200901UV / 200902UV, answered with the HIS 医嘱号) and 医嘱查询 with 收费 status (QUMT_IN020030UV01),
 * 门诊收费 / 门诊退费 from the platform (actions OutpatientCharge / OutpatientRefund, his-billing.ts), keeping
 * patients, priced orders and receipts in memory; it pushes registrations and new priced 处方 / 申请单 to Lingshu's
 * 互联互通 endpoints, and can be told to fail its next calls (no answer, HTTP 500 with a SOAP fault, a truncated
 * envelope). Its HL7 v2 interface sends ADT^A04 / A08 and ORM^O01 over MLLP (POST /adt, /orm; GET /hl7v2 lists what
 * was sent and the ACK each got). Its 收费项目 and 药品 dictionaries are a read-only JSON view at /api/dictionary on
 * the same port (his-dictionary.ts), changed through the control routes under /dictionary.
 */
export class HisPeer implements SimulatedPeer {
  readonly name = 'his';
  readonly description = 'HIS: 互联互通 SOAP services with HL7 v3 XML (个人信息注册/查询, 医嘱/收费查询), pushes 个人信息注册 to Lingshu; sends ADT / ORM over MLLP; 收费项目/药品字典 JSON view';
  readonly state: HisState;
  /** 收费项目 and 药品 dictionaries, served as a JSON view at /api/dictionary (his-dictionary.ts). */
  readonly dictionary: HisDictionary;
  readonly received: ReceivedCall[] = [];
  private readonly failures = new FailureSwitch<FailureMode>(['timeout', '500', 'malformed']);
  private readonly http = new PeerHttpServer();
  private readonly lingshuClients = new Map<string, Promise<soap.Client>>();
  private readonly v2?: HisMllpSender;
  private v2Sequence = 0;

  constructor(private readonly options: HisPeerOptions = {}) {
    this.state = new HisState(options.seed ?? true);
    if (options.mllp) this.v2 = new HisMllpSender(options.mllp);
    this.dictionary = new HisDictionary(options.seed ?? true);
  }

  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.http.port}${HIS_SOAP_PATH}`;
  }

  async start(): Promise<Record<string, number>> {
    const app = express();
    app.use(HIS_SOAP_PATH, (req, res, next) => this.injectFailure(req, res, next));
    app.use('/api/dictionary', this.dictionary.router());
    await this.http.listen(app, this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    // The WSDL is made once the port is known: callers take the service address from it.
    await new Promise<void>((resolve, reject) => {
      soap.listen(app, {
        path: HIS_SOAP_PATH, xml: hisWsdl(this.url), preserveWhitespace: true, suppressStack: true,
        services: { HISService: { HISServiceSoap: { HIPMessageServer: (args: { action?: string; message?: string }) => this.serve(args) } } },
        callback: (err: unknown) => (err ? reject(err) : resolve()),
      } as soap.IServerOptions);
    });
    return { soap: this.http.port };
  }

  async stop(): Promise<void> {
    this.v2?.close();
    await this.http.close();
  }

  /** Sends the patient's ADT^A04 (registered) or ^A08 (details changed) over MLLP and returns the ACK it got. */
  async sendAdt(patientId: string, event: AdtEvent = 'A04'): Promise<SentV2 & { message: string }> {
    const patient = this.state.patients.get(patientId);
    if (!patient) throw new UnknownPatientError(`no patient ${patientId}`);
    const controlId = this.v2ControlId();
    const message = adtMessage(event, patient, controlId);
    return { ...(await this.v2Sender().send(`ADT^${event}`, controlId, message)), message };
  }

  /** A doctor orders 检查 / 检验 / 治疗: priced 医嘱 in the HIS, sent as one ORM^O01 over MLLP. */
  async sendOrm(patientId: string, category: 'exam' | 'lab' | 'treatment' = 'exam', items: ServiceLine[] = DEMO_EXAMS): Promise<SentV2 & { message: string; orders: object[] }> {
    const { patient, orderedAt } = this.pushContext(patientId);
    const sender = this.v2Sender();
    const orders = items.map((i) => this.state.addOrder(serviceOrder(i, category, patientId, orderedAt)));
    const controlId = this.v2ControlId();
    const message = ormMessage(patient, orders, controlId);
    return { ...(await sender.send('ORM^O01', controlId, message)), message, orders };
  }

  private v2Sender(): HisMllpSender {
    if (!this.v2) throw new Error('no HL7 v2 target configured (options.mllp, LINGSHU_SIM_HIS_MLLP_TARGET)');
    return this.v2;
  }

  private v2ControlId(): string {
    this.v2Sequence += 1;
    return `HIS${v3.now().slice(0, 8)}${String(this.v2Sequence).padStart(5, '0')}`;
  }

  /** Makes the next `times` SOAP calls fail the given way. */
  fail(mode: FailureMode, times: number): void {
    this.failures.set(mode, times);
  }

  /** Calls Lingshu's 互联互通 endpoint, as the HIS does when something happens on its side; returns the result string. */
  async sendToLingshu(action: string, message: string, wsdl = this.options.lingshu?.wsdl): Promise<string> {
    const target = this.options.lingshu;
    if (!target || !wsdl) throw new Error('no Lingshu endpoint configured (options.lingshu.wsdl)');
    let client = this.lingshuClients.get(wsdl);
    if (!client) {
      client = soap.createClientAsync(wsdl, { forceSoap12Headers: target.soapVersion === '1.2' });
      client.catch(() => this.lingshuClients.delete(wsdl));
      this.lingshuClients.set(wsdl, client);
    }
    const [result] = await ((await client) as unknown as { HIPMessageServerAsync: (a: object, o: object) => Promise<[{ HIPMessageServerResult?: string }]> })
      .HIPMessageServerAsync({ action, message }, { timeout: target.timeoutMs ?? 10000 });
    return result?.HIPMessageServerResult ?? '';
  }

  /** A doctor at the HIS writes a prescription: its drugs become priced 医嘱 sharing a 处方号, pushed to Lingshu. */
  async prescribe(patientId: string, drugs: DrugLine[] = DEMO_DRUGS, notify = true) {
    const c = this.pushContext(patientId);
    const prescriptionNo = this.state.newPrescriptionNo(c.orderedAt.slice(0, 8));
    const orders = drugs.map((d) => this.state.addOrder(drugOrder(d, patientId, prescriptionNo, c.orderedAt)));
    return { prescriptionNo, orders, ...(await this.pushOrder(prescriptionPush(prescriptionNo, orders, c), notify)) };
  }

  /** A doctor at the HIS fills in a 检查 / 检验 申请单: priced 医嘱, pushed to Lingshu. */
  async orderServices(patientId: string, category: 'exam' | 'lab' | 'treatment' = 'exam', items: ServiceLine[] = DEMO_EXAMS, instruction?: string, notify = true) {
    const c = this.pushContext(patientId);
    const requisition = `SQ${c.orderedAt.slice(0, 8)}${String(this.state.orders.size + 1).padStart(5, '0')}`;
    const orders = items.map((i) => this.state.addOrder(serviceOrder(i, category, patientId, c.orderedAt)));
    return { requisition, orders, ...(await this.pushOrder(applicationPush(requisition, category, orders, c, instruction), notify)) };
  }

  private pushContext(patientId: string) {
    const patient = this.state.patients.get(patientId);
    if (!patient) throw new UnknownPatientError(`no patient ${patientId}`);
    const orderedAt = v3.now();
    return { patient, orderedAt, doctor: DEMO_DOCTOR, visitId: `GH${orderedAt.slice(0, 8)}${patientId.slice(-5)}` };
  }

  /** The message goes back with the answer, so that a resend of the very same 医嘱 can be made and tried. */
  private async pushOrder(xml: string, notify: boolean): Promise<{ message: string; lingshuAnswer?: string }> {
    if (!notify || !this.options.lingshu) return { message: xml };
    return { message: xml, lingshuAnswer: await this.sendToLingshu(ACTION_OF_ORDER, xml, this.options.lingshu.ordersWsdl ?? this.options.lingshu.wsdl) };
  }

  /** Registers a patient in the HIS and, when Lingshu is configured, pushes the 个人信息注册 to it. */
  async registerPatient(p: Omit<HisPatient, 'id'> & { id?: string }, notify = true): Promise<{ patient: HisPatient; lingshuAnswer?: string }> {
    const patient = this.state.addPatient(p);
    if (!notify || !this.options.lingshu) return { patient };
    return { patient, lingshuAnswer: await this.sendToLingshu(ACTION_OF_REGISTRATION, v3.patientRegistration(patient)) };
  }

  control(): Router {
    const r = express.Router();
    r.use(express.json({ limit: '1mb' }));
    r.get('/', (_req, res) => res.json({ name: this.name, url: this.url, wsdl: `${this.url}?wsdl`, failure: this.failures.armed, lingshu: this.options.lingshu?.wsdl ?? null }));
    r.get('/patients', (_req, res) => res.json([...this.state.patients.values()]));
    r.post('/patients', async (req, res) => {
      const body = req.body as Partial<HisPatient> & { notify?: boolean };
      if (!body?.name) return void res.status(400).json({ error: 'name is required' });
      try {
        res.status(201).json(await this.registerPatient({ gender: '0', ...body, name: body.name }, body.notify !== false));
      } catch (err) {
        res.status(502).json({ error: `Lingshu did not take the registration: ${(err as Error).message}` });
      }
    });
    r.get('/orders', (req, res) => {
      const patientId = typeof req.query.patientId === 'string' ? req.query.patientId : undefined;
      res.json(patientId ? this.state.ordersOf(patientId) : [...this.state.orders.values()]);
    });
    r.post('/prescriptions', (req, res) => this.pushRoute(res, () => {
      const body = (req.body ?? {}) as { patientId?: string; drugs?: DrugLine[]; notify?: boolean };
      return this.prescribe(body.patientId ?? '', body.drugs?.length ? body.drugs : DEMO_DRUGS, body.notify !== false);
    }));
    r.post('/orders', (req, res) => this.pushRoute(res, () => {
      const body = (req.body ?? {}) as { patientId?: string; category?: 'exam' | 'lab' | 'treatment'; items?: ServiceLine[]; instruction?: string; notify?: boolean };
      return this.orderServices(body.patientId ?? '', body.category ?? 'exam', body.items?.length ? body.items : DEMO_EXAMS, body.instruction, body.notify !== false);
    }));
    r.get('/receipts', (_req, res) => res.json([...this.state.receipts.values()]));
    r.post('/orders/:id/pay', (req, res) => {
      const order = this.state.orders.get(req.params.id);
      if (!order) return void res.status(404).json({ error: `no order ${req.params.id}` });
      order.chargeStatus = 'paid';
      res.json(order);
    });
    r.post('/adt', (req, res) => this.v2Route(res, () => {
      const body = (req.body ?? {}) as { patientId?: string; event?: string; changes?: Partial<Omit<HisPatient, 'id'>> };
      if (body.event !== undefined && body.event !== 'A04' && body.event !== 'A08') throw new Error('event is A04 or A08');
      // An A08 is news of a change: the changed fields are made in the HIS first, then sent.
      const known = this.state.patients.get(body.patientId ?? '');
      if (known && body.changes) Object.assign(known, body.changes, { id: known.id });
      return this.sendAdt(body.patientId ?? '', body.event ?? 'A04');
    }));
    r.post('/orm', (req, res) => this.v2Route(res, () => {
      const body = (req.body ?? {}) as { patientId?: string; category?: 'exam' | 'lab' | 'treatment'; items?: ServiceLine[] };
      return this.sendOrm(body.patientId ?? '', body.category ?? 'exam', body.items?.length ? body.items : DEMO_EXAMS);
    }));
    r.get('/hl7v2', (_req, res) => res.json({ target: this.v2?.where ?? null, sent: this.v2?.sent ?? [] }));
    r.use('/dictionary', this.dictionary.control());
    r.post('/fail', this.failures.route());
    r.get('/received', (_req, res) => res.json(this.received));
    r.post('/send', async (req, res) => {
      const { action, message } = (req.body ?? {}) as { action?: string; message?: string };
      if (!action || !message) return void res.status(400).json({ error: 'action and message are required' });
      try {
        res.json({ result: await this.sendToLingshu(action, message) });
      } catch (err) {
        res.status(502).json({ error: (err as Error).message });
      }
    });
    return r;
  }

  private async pushRoute(res: express.Response, push: () => Promise<object>): Promise<void> {
    try {
      res.status(201).json(await push());
    } catch (err) {
      if (err instanceof UnknownPatientError) return void res.status(404).json({ error: err.message });
      res.status(502).json({ error: `Lingshu did not take the order: ${(err as Error).message}` });
    }
  }

  /** 201 with the ACK; 502 when no ACK came (the answer still says what was sent and why it failed). */
  private async v2Route(res: express.Response, send: () => SentV2 | Promise<SentV2>): Promise<void> {
    try {
      const sent = await send();
      res.status(sent.ack ? 201 : 502).json(sent);
    } catch (err) {
      if (err instanceof UnknownPatientError) return void res.status(404).json({ error: err.message });
      res.status(400).json({ error: (err as Error).message });
    }
  }

  private injectFailure(req: express.Request, res: express.Response, next: express.NextFunction): void {
    const mode = req.method === 'POST' ? this.failures.take() : undefined;
    if (!mode) return next();
    this.record({ action: '?', outcome: `simulated ${mode}` });
    if (mode === 'timeout') {
      // Never answers; the socket is destroyed on stop.
      this.http.hold(res);
      return;
    }
    if (mode === '500') {
      res.status(500).type('text/xml; charset=utf-8').send(
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
        '<soap:Fault><faultcode>soap:Server</faultcode><faultstring>HIS 数据库连接失败: ORA-12541 TNS:no listener</faultstring></soap:Fault></soap:Body></soap:Envelope>');
      return;
    }
    // A reply cut off mid-element, as a HIS whose gateway drops the connection after a fixed buffer sends it.
    res.status(200).type('text/xml; charset=utf-8').send('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><HIPMessageServerResponse xmlns="http://tempuri.org/"><HIPMessageServerResult>&lt;MCCI_IN0000');
  }

  private serve(args: { action?: string; message?: string }): { HIPMessageServerResult: string } {
    const action = args?.action ?? '';
    let req: v3.V3Request | undefined;
    let answer: string;
    let billingRequest: BillingRequest | undefined;
    try {
      const billing = action === BILLING_ACTIONS.charge ? 'charge' : action === BILLING_ACTIONS.refund ? 'refund' : undefined;
      if (billing) {
        // Not an HL7 v3 interaction: the body is the platform's 收费 / 退费 request, answered with an MCCI all the same.
        billingRequest = readBillingRequest(billing, args?.message ?? '');
        req = { interaction: billing === 'charge' ? 'OutpatientChargeRequest' : 'OutpatientRefundRequest', messageId: billingRequest.messageId, senderDevice: billingRequest.sender, root: {} };
        answer = book(this.state, billingRequest, req, v3.now().slice(0, 8));
      } else {
        req = v3.readRequest(args?.message ?? '');
        answer = this.answer(req);
      }
    } catch (err) {
      if (!(err instanceof v3.V3Error)) throw err;
      answer = v3.ack('AE', err.message, req);
    }
    const billing = billingRequest && (({ patientId, outTradeNo, outRefundNo, transactionId, channel, amount, lines }: BillingRequest) =>
      ({ patientId, outTradeNo, outRefundNo, transactionId, channel, amount, lines }))(billingRequest);
    this.record({
      action, interaction: req?.interaction, messageId: req?.messageId, outcome: /typeCode="AE"/.test(answer) ? 'AE' : 'AA',
      text: /<text value="([^"]*)"/.exec(answer)?.[1], ...(billing ? { billing } : {}),
    });
    return { HIPMessageServerResult: answer };
  }

  private answer(req: v3.V3Request): string {
    switch (req.interaction) {
      case 'PRPA_IN201311UV02': {
        const patient = this.state.addPatient(v3.patientFromRegistration(req));
        return v3.ack('AA', `注册成功 ${patient.id}`, req);
      }
      case 'PRPA_IN201314UV02': {
        const update = v3.patientFromRegistration(req);
        const known = update.id ? this.state.patients.get(update.id) : undefined;
        if (!known) return v3.ack('AE', `患者 ${update.id ?? '(无ID)'} 不存在，无法更新`, req);
        Object.assign(known, Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)));
        return v3.ack('AA', '更新成功', req);
      }
      case 'PRPA_IN201305UV02':
        return v3.patientQueryAnswer(req, this.state.findPatient(v3.patientQuery(req)));
      case 'QUMT_IN020030UV01':
      case 'QUMT_IN020030PL': {
        const patientId = v3.orderQueryPatient(req);
        return v3.orderQueryAnswer(req, patientId, this.state.ordersOf(patientId));
      }
      case 'POOR_IN200901UV': {
        // One 申请单 item per message from the platform; a resend of the same placer number gets the same 医嘱号.
        const [item] = v3.ordersFromPoor(req);
        const known = this.state.orderPlacedAs(item.number);
        const order = known ?? this.state.addOrder({
          patientId: item.patientId, code: item.code, name: item.name, category: 'lab', price: '0.00', chargeStatus: 'unpaid',
          orderedAt: new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, ''), placerNumber: item.number, status: item.status,
        });
        return v3.orderAck(known ? '医嘱已存在' : '新增医嘱成功', order.id, req);
      }
      case 'POOR_IN200902UV': {
        const items = v3.ordersFromPoor(req);
        const orders = items.map((i) => this.state.orders.get(i.number) ?? this.state.orderPlacedAs(i.number));
        const missing = items.find((_, n) => !orders[n]);
        if (missing) return v3.ack('AE', `医嘱 ${missing.number} 不存在，无法更新`, req);
        items.forEach((i, n) => { orders[n]!.status = i.status; });
        return v3.orderAck('更新医嘱成功', orders[0]!.id, req);
      }
      default:
        return v3.ack('AE', `不支持的交互 ${req.interaction}`, req);
    }
  }

  private record(call: Omit<ReceivedCall, 'at'>): void {
    this.received.push({ at: new Date().toISOString(), ...call });
    if (this.received.length > KEEP_RECEIVED) this.received.shift();
  }
}

class UnknownPatientError extends Error {}

export function hisPeer(options: HisPeerOptions = {}): HisPeer {
  return new HisPeer(options);
}
