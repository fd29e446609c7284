import request from 'supertest';
import { mllpListener, MllpListener } from '../../adapters/mllp/mllp-listener';
import { channel } from '../../engine/channel/channel';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { readAckWithLibrary } from '../../simulators/mllp/hl7-ack-reader';
import { MllpClient } from '../../simulators/mllp/mllp-client';
import { allPeers, simulatorConfig } from '../../simulators/peers';
import { STACKS, startTestServer, TestServer } from '../support/engine-server';

describe('simulator host with the LIS, PACS and reproductive-center LIS peers against a real engine', () => {
  let server: TestServer;
  let listener: MllpListener;
  let host: SimulatorHost;
  let control: string;

  beforeAll(async () => {
    listener = mllpListener({ port: 0, host: '127.0.0.1', charset: 'auto' });
    server = await startTestServer(STACKS[0], () => [
      channel({ id: 'results', source: listener, destinations: [{ name: 'keep', connector: { type: 'sink', send: async () => ({}) } }] }),
    ]);
    const target = `127.0.0.1:${listener.port}`;
    const config = simulatorConfig({
      LINGSHU_SIM_PORT: '0', LINGSHU_SIM_HIS_PORT: '0', LINGSHU_SIM_LIS_PORT: '0', LINGSHU_SIM_PACS_PORT: '0', LINGSHU_SIM_REPRO_LIS_PORT: '0',
      LINGSHU_SIM_LIS_TARGET: target, LINGSHU_SIM_PACS_TARGET: target, LINGSHU_SIM_REPRO_LIS_TARGET: target,
      LINGSHU_SIM_MEDTECH_BOOKING_PORT: '0', LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT: '0', LINGSHU_SIM_PHARMACY_PORT: '0', LINGSHU_SIM_REGULATOR_PORT: '0', LINGSHU_SIM_SMS_GATEWAY_PORT: '0',
      LINGSHU_SIM_DRUG_DATABASE_PORT: '0', LINGSHU_SIM_WECHATPAY_PORT: '0', LINGSHU_SIM_ALIPAY_PORT: '0',
    });
    host = await startSimulatorHost(allPeers(config), { port: config.port });
    control = `http://127.0.0.1:${host.port}`;
  });
  afterAll(async () => {
    await host?.stop();
    await server?.cleanup();
  });

  async function stored(controlId: string): Promise<string> {
    const [m] = (await server.store.search({ channel: 'results', correlationId: controlId })).messages;
    return (await server.store.get(m.id))!.raw;
  }

  it('lists every peer with its protocol ports at GET /_sim/', async () => {
    const { body } = await request(control).get('/_sim/').expect(200);
    const peers = body.peers as { name: string; ports: Record<string, number> }[];
    expect(peers.map((p) => p.name)).toEqual(expect.arrayContaining(['lis', 'pacs', 'repro-lis', 'his', 'medtech-booking', 'prescription-platform', 'pharmacy', 'regulator', 'sms-gateway', 'wechatpay', 'alipay', 'drug-database']));
    for (const name of ['lis', 'pacs', 'repro-lis']) expect(peers.find((p) => p.name === name)!.ports.mllp).toBeGreaterThan(0);
    for (const p of peers) expect(Math.min(...Object.values(p.ports))).toBeGreaterThan(0);
  });

  it('sends a GBK 血常规 result that Lingshu stores as Chinese text, and records the AA it got', async () => {
    const { body } = await request(control).post('/_sim/lis/results').send({ charset: 'gbk' }).expect(200);
    const [sent] = body.sent;
    expect(sent).toMatchObject({ charset: 'gbk', ack: { code: 'AA', controlId: sent.controlId } });
    const raw = await stored(sent.controlId);
    expect(raw).toMatch(/\|ORU\^R01\^ORU_R01\|/);
    expect(raw).toContain('OBR|1|');
    expect(raw).toContain('HGB^血红蛋白^L||98|g/L|130-175|L');
    const { body: history } = await request(control).get('/_sim/lis/results').expect(200);
    expect(history.sent.map((s: { controlId: string }) => s.controlId)).toContain(sent.controlId);
  });

  it('sends a 生化 result when asked for the biochem variant', async () => {
    const { body } = await request(control).post('/_sim/lis/results').send({ variant: 'biochem', charset: 'utf-8' }).expect(200);
    expect(await stored(body.sent[0].controlId)).toContain('ALT^丙氨酸氨基转移酶^L||56|U/L|9-50|H');
  });

  it.each([
    ['pacs', 'IMPRESSION^诊断意见^L||右肺上叶微小磨玻璃结节'],
    ['repro-lis', 'AMH^抗缪勒管激素^L||2.86|ng/mL'],
  ])('%s sends its report and records the AA', async (peer, expected) => {
    const { body } = await request(control).post(`/_sim/${peer}/results`).send({}).expect(200);
    expect(body.sent[0].ack.code).toBe('AA');
    expect(await stored(body.sent[0].controlId)).toContain(expected);
  });

  it('answers orders on its MLLP port with AE while told to fail, then AA again', async () => {
    const port = host.peers.find((p) => p.name === 'lis')!.ports.mllp;
    await request(control).post('/_sim/lis/fail').send({ mode: 'AE', times: 1 }).expect(200);
    const client = await MllpClient.connect({ host: '127.0.0.1', port });
    const order = (id: string) => Buffer.from(`MSH|^~\\&|HIS|桃源院区|LIS|桃源院区检验科|20251125080000||ORM^O01|${id}|P|2.4\rORC|NW|O1\r`);
    const first = readAckWithLibrary((await client.send(order('ORD1'))).toString('utf8'));
    const second = readAckWithLibrary((await client.send(order('ORD2'))).toString('utf8'));
    client.close();
    expect([first?.code, second?.code]).toEqual(['AE', 'AA']);
    const { body } = await request(control).get('/_sim/lis/orders').expect(200);
    expect(body.orders.map((o: { controlId: string }) => o.controlId)).toEqual(['ORD1', 'ORD2']);
  });
});
