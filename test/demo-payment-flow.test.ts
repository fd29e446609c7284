import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, ChargeItem, Invoice, MedicationRequest, Organization, Parameters, Patient, ServiceRequest, Task } from '@medplum/fhirtypes';
import { freePort, EngineProcess } from './support/engine-process';
import { eventually } from './support/engine-server';

/**
 * Issue 6 on the product as `npm start` runs it (demo profile, its own process, every peer simulated): the HIS
 * writes a priced prescription and an exam order, the patient pays both at once through the FHIR API and the
 * simulated WeChat Pay, the HIS books the 收费, the prescription reaches the pharmacy, and a refund of the exam goes
 * all the way back to the HIS as 退费.
 */
describe('payment in the demo hospital', () => {
  let engine: EngineProcess;
  let sim: string;
  let dir: string;
  let admin: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-pay-demo-'));
    const ports = await Promise.all(Array.from({ length: 16 }, freePort));
    const [http, simPort, mllp, lis, pacs, repro, his, pacsIn, reproIn, adtIn, wechat, alipay, medtech, platform, pharmacy] = ports;
    engine = new EngineProcess({
      LINGSHU_PROFILE: 'demo', LINGSHU_DB: `sqlite:${path.join(dir, 'demo.db')}`, LINGSHU_BUS: '', LINGSHU_LOG_LEVEL: 'warn',
      LINGSHU_SIM_PORT: String(simPort), LINGSHU_DEMO_MLLP_PORT: String(mllp),
      LINGSHU_HOSPITAL__CHANNELS__PACS_REPORTS__PORT: String(pacsIn), LINGSHU_HOSPITAL__CHANNELS__REPRODUCTIVE_CENTER_RESULTS__PORT: String(reproIn),
      LINGSHU_HOSPITAL__CHANNELS__HIS_PATIENTS_ADT__PORT: String(adtIn),
      LINGSHU_SIM_LIS_PORT: String(lis), LINGSHU_SIM_PACS_PORT: String(pacs), LINGSHU_SIM_REPRO_LIS_PORT: String(repro), LINGSHU_SIM_HIS_PORT: String(his),
      LINGSHU_SIM_MEDTECH_BOOKING_PORT: String(medtech), LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT: String(platform), LINGSHU_SIM_PHARMACY_PORT: String(pharmacy),
      LINGSHU_SIM_REGULATOR_PORT: '0', LINGSHU_SIM_SMS_GATEWAY_PORT: '0', LINGSHU_SIM_DRUG_DATABASE_PORT: '0',
      LINGSHU_SIM_WECHATPAY_PORT: String(wechat), LINGSHU_SIM_ALIPAY_PORT: String(alipay),
    }, http);
    await engine.start();
    sim = `http://127.0.0.1:${simPort}/_sim`;
    await eventually(async () => (await fetch(`${sim}/`).catch(() => undefined))?.ok, 30000);
    admin = await token({ role: 'admin' });
  }, 90_000);

  afterAll(async () => {
    await engine?.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function token(body: object): Promise<string> {
    const res = await fetch(`${engine.base}/auth/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return ((await res.json()) as { access_token: string }).access_token;
  }
  const fhir = async <T>(who: string, p: string, body?: object): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${engine.base}/fhir/${p}`, {
      method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${who}`, 'content-type': 'application/fhir+json' }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const entries = async <T>(who: string, query: string): Promise<T[]> => ((await fhir<Bundle>(who, query)).body.entry ?? []).map((e) => e.resource as T);
  const simPost = (p: string, body: object = {}) => fetch(`${sim}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const simGet = async <T>(p: string): Promise<T> => (await (await fetch(`${sim}${p}`)).json()) as T;

  it('takes the HIS orders, pays them merged, books the 收费 at the HIS, circulates the prescription and refunds the exam back to the HIS', async () => {
    expect((await simPost('/his/prescriptions', { patientId: 'P000100002' })).status).toBe(201);
    expect((await simPost('/his/orders', { patientId: 'P000100002', category: 'exam' })).status).toBe(201);
    const [patient] = await eventually(async () => {
      const found = await entries<Patient>(admin, `Patient?identifier=${encodeURIComponent('urn:oid:2.16.156.10011.2.5.1.4|P000100002')}`);
      return found.length ? found : undefined;
    });
    const drugs = await eventually(async () => {
      const found = await entries<MedicationRequest>(admin, `MedicationRequest?subject=Patient/${patient.id}`);
      return found.length ? found : undefined;
    });
    const [exam] = await eventually(async () => {
      const found = await entries<ServiceRequest>(admin, `ServiceRequest?subject=Patient/${patient.id}`);
      return found.length ? found : undefined;
    });
    const bills = await entries<ChargeItem>(admin, `ChargeItem?subject=Patient/${patient.id}`);
    expect(bills.length).toBeGreaterThanOrEqual(drugs.length + 1);
    const [pharmacy] = await entries<Organization>(admin, `Organization?identifier=${encodeURIComponent('http://lingshu.health/sid/pharmacy-code|XH-DYF')}`);
    expect(pharmacy).toBeDefined();

    const patientToken = await token({ role: 'patient', subject: `Patient/${patient.id}` });
    const checkout = await fhir<Parameters>(patientToken, '$checkout', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueReference: { reference: `Patient/${patient.id}` } },
        { name: 'item', valueReference: { reference: `MedicationRequest/${drugs[0].id}` } },
        { name: 'item', valueReference: { reference: `ServiceRequest/${exam.id}` } },
        { name: 'pharmacy', valueReference: { reference: `Organization/${pharmacy.id}` } },
        { name: 'channel', valueCode: 'wechatpay' },
        { name: 'clientKey', valueString: 'demo-flow-1' },
        { name: 'openid', valueString: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      ],
    });
    expect(checkout.status).toBe(200);
    const invoice = checkout.body.parameter!.find((p) => p.name === 'invoice')!.resource as Invoice;
    const outTradeNo = checkout.body.parameter!.find((p) => p.name === 'payment')!.part!.find((p) => p.name === 'outTradeNo')!.valueString!;

    expect((await simPost(`/wechatpay/orders/${outTradeNo}/pay?times=3`)).status).toBe(200);
    await eventually(async () => (await fhir<Invoice>(patientToken, `Invoice/${invoice.id}`)).body.status === 'balanced', 30_000);
    const receipts = await eventually(async () => {
      const r = await simGet<{ kind: string; number: string; amount: string }[]>('/his/receipts');
      return r.some((x) => x.kind === 'charge' && x.number === outTradeNo) ? r : undefined;
    }, 30_000);
    expect(receipts.filter((x) => x.kind === 'charge' && x.number === outTradeNo)).toHaveLength(1);
    await eventually(async () => (await simGet<{ rxNo: string }[]>('/pharmacy/prescriptions')).length > 0, 30_000);

    const examItem = (await entries<ChargeItem>(admin, `ChargeItem?service=ServiceRequest/${exam.id}`))[0];
    const requested = await fhir<Task>(patientToken, `Invoice/${invoice.id}/$request-refund`, {
      resourceType: 'Parameters', parameter: [{ name: 'item', valueReference: { reference: `ChargeItem/${examItem.id}` } }, { name: 'reason', valueString: '检查已取消' }],
    });
    expect(requested.status).toBe(200);
    const operator = await token({ role: 'operator' });
    expect((await fhir(operator, 'Task/$approve-refund', { resourceType: 'Parameters', parameter: [{ name: 'task', valueReference: { reference: `Task/${requested.body.id}` } }] })).status).toBe(200);
    const refunds = await simGet<{ outRefundNo: string }[]>('/wechatpay/refunds');
    expect(refunds).toHaveLength(1);
    expect((await simPost(`/wechatpay/refunds/${refunds[0].outRefundNo}/succeed`)).status).toBe(200);
    await eventually(async () => (await fhir<Task>(patientToken, `Task/${requested.body.id}`)).body.status === 'completed', 30_000);
    await eventually(async () => (await simGet<{ kind: string; number: string }[]>('/his/receipts')).some((x) => x.kind === 'refund' && x.number === refunds[0].outRefundNo), 30_000);
  });
});
