import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineProcess, freePort } from './support/engine-process';
import { eventually } from './support/engine-server';

/**
 * What `npm start` does on a fresh clone: the demo profile starts the engine, the FHIR API and the simulated
 * hospital, and messages flow between them over the real protocols. Every port is a free one so that parallel
 * runs never collide.
 */
describe('the demo profile', () => {
  let engine: EngineProcess;
  let sim: string;
  let dir: string;
  let engineerToken: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-demo-'));
    const [http, simPort, mllp, lis, pacs, repro, his, pacsIn, reproIn, adtIn, wechat, alipay, drugDatabase] = await Promise.all(Array.from({ length: 13 }, freePort));
    engine = new EngineProcess({
      LINGSHU_PROFILE: 'demo', LINGSHU_DB: `sqlite:${path.join(dir, 'demo.db')}`, LINGSHU_BUS: '', LINGSHU_LOG_LEVEL: 'warn',
      LINGSHU_SIM_PORT: String(simPort), LINGSHU_DEMO_MLLP_PORT: String(mllp),
      LINGSHU_HOSPITAL__CHANNELS__PACS_REPORTS__PORT: String(pacsIn), LINGSHU_HOSPITAL__CHANNELS__REPRODUCTIVE_CENTER_RESULTS__PORT: String(reproIn),
      LINGSHU_HOSPITAL__CHANNELS__HIS_PATIENTS_ADT__PORT: String(adtIn),
      LINGSHU_SIM_LIS_PORT: String(lis), LINGSHU_SIM_PACS_PORT: String(pacs), LINGSHU_SIM_REPRO_LIS_PORT: String(repro), LINGSHU_SIM_HIS_PORT: String(his),
      LINGSHU_SIM_MEDTECH_BOOKING_PORT: '0', LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT: '0', LINGSHU_SIM_PHARMACY_PORT: '0', LINGSHU_SIM_REGULATOR_PORT: '0', LINGSHU_SIM_SMS_GATEWAY_PORT: '0',
      // The demo's payment channels are pointed at the payment simulators' ports, so those are fixed up front.
      LINGSHU_SIM_WECHATPAY_PORT: String(wechat), LINGSHU_SIM_ALIPAY_PORT: String(alipay),
      LINGSHU_SIM_DRUG_DATABASE_PORT: String(drugDatabase),
    }, http);
    await engine.start();
    sim = `http://127.0.0.1:${simPort}/_sim`;
    // The simulated hospital starts after the engine is ready (its peers call the engine's channels).
    await eventually(async () => (await fetch(`${sim}/`).catch(() => undefined))?.ok, 30000);
    // The engine API is for integration engineers: the demo issuer hands out their token.
    const issued = await fetch(`${engine.base}/auth/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'engineer' }) });
    engineerToken = ((await issued.json()) as { access_token: string }).access_token;
  });

  const api = (path: string) => fetch(`${engine.base}/api${path}`, { headers: { authorization: `Bearer ${engineerToken}` } });

  afterAll(async () => {
    await engine?.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists the simulated peers with their ports', async () => {
    const { peers } = (await (await fetch(`${sim}/`)).json()) as { peers: { name: string }[] };
    expect(peers.map((p) => p.name).sort()).toEqual(['alipay', 'drug-database', 'his', 'lis', 'medtech-booking', 'pacs', 'pharmacy', 'prescription-platform', 'regulator', 'repro-lis', 'sms-gateway', 'wechatpay']);
  });

  it('writes a result the simulated LIS sends over MLLP into the FHIR store and acknowledges it with AA', async () => {
    const res = await fetch(`${sim}/lis/results`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const { sent } = (await res.json()) as { sent: { ack: { code: string } }[] };
    expect(sent[0].ack.code).toBe('AA');
    await eventually(async () => {
      const list = (await (await api('/messages?channel=lis-results&status=sent')).json()) as { messages: unknown[] };
      return list.messages.length > 0;
    });
  });

  it('writes a patient registration the simulated HIS pushes to the 互联互通 endpoint into the FHIR store', async () => {
    const res = await fetch(`${sim}/his/patients`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '测试患者', gender: '2', birthDate: '19491231', idCard: '11010519491231002X' }),
    });
    expect(((await res.json()) as { lingshuAnswer: string }).lingshuAnswer).toContain('typeCode="AA"');
    await eventually(async () => {
      const list = (await (await api('/messages?channel=his-patients&status=sent')).json()) as { messages: unknown[] };
      return list.messages.length > 0;
    });
  });

  it('syncs the HIS 收费项目 and the drug database into the FHIR store, found by pinyin initials', async () => {
    const issued = await fetch(`${engine.base}/auth/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'doctor', subject: 'Practitioner/demo' }) });
    const doctor = ((await issued.json()) as { access_token: string }).access_token;
    const titles = async (query: string) => {
      const bundle = (await (await fetch(`${engine.base}/fhir/${query}`, { headers: { authorization: `Bearer ${doctor}` } })).json()) as { entry?: { resource: { title?: string; code?: { text?: string } } }[] };
      return (bundle.entry ?? []).map((e) => e.resource.title ?? e.resource.code?.text);
    };
    expect(await eventually(async () => (await titles('ActivityDefinition?title=xcg')).length > 0 && titles('ActivityDefinition?title=xcg'), 60000)).toEqual(['血常规']);
    expect(await eventually(async () => (await titles('MedicationKnowledge?name=blfhs')).length > 1 && titles('MedicationKnowledge?name=blfhs'), 60000)).toEqual(['布洛芬缓释胶囊', '布洛芬缓释胶囊']);
  }, 90000);

  it('refuses the engine API without a token', async () => {
    expect((await fetch(`${engine.base}/api/channels`)).status).toBe(401);
  });

  it('serves the FHIR API with the China code systems loaded', async () => {
    const bundle = (await (await fetch(`${engine.base}/fhir/CodeSystem?_summary=count`)).json()) as { total: number };
    expect(bundle.total).toBeGreaterThanOrEqual(7);
  });

  it('offers online payment: the workflow operations are in the CapabilityStatement and a forged notification is refused for retry', async () => {
    const cs = (await (await fetch(`${engine.base}/fhir/metadata`)).json()) as { rest: { operation?: { name: string }[]; resource: { operation?: { name: string }[] }[] }[] };
    const names = [...(cs.rest[0].operation ?? []), ...cs.rest[0].resource.flatMap((r) => r.operation ?? [])].map((o) => o.name);
    expect(names).toEqual(expect.arrayContaining(['checkout', 'request-refund', 'approve-refund', 'reject-refund', 'redeem']));
    const res = await fetch(`${engine.base}/channels/wechatpay/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"forged"}' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect((await (await api('/channels/wechatpay')).json()) as { state?: string }).toMatchObject({ state: expect.any(String) });
  });
});
