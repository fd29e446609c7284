import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { httpSource } from '../../../adapters/http/http-source';
import { HttpSmsGateway, smsSignature } from '../../../adapters/sms/http-sms-gateway';
import { smsReceiptSource } from '../../../adapters/sms/sms-receipt-source';
import { SMS_TABLE } from '../../../adapters/sms/sms-records';
import { smsSender } from '../../../adapters/sms/sms-sender';
import { channel } from '../../../engine/channel/channel';
import { freePort } from '../../support/engine-process';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';
import { ScriptedHttpPeer } from '../../support/scripted-http-peer';

const SECRET = 'sms-test-secret';
const APP = 'taoyuan-his';
const PHONE = '13812345678';
const retry = { maxAttempts: 30, initialDelayMs: 20, maxDelayMs: 100, multiplier: 2, jitter: 0, concurrency: 1 };
const accepted = (id: string) => ({ status: 200, body: JSON.stringify({ code: '0', messageId: id }) });

interface MessageView {
  status: string;
  stages: { name: string; response?: string }[];
  errors: { error: string }[];
}

describe('SMS gateway sender', () => {
  const gateway = new ScriptedHttpPeer();
  let server: TestServer;
  let refusedPort: number;

  beforeAll(async () => {
    await gateway.listen();
    refusedPort = await freePort();
    const at = (url: string, timeoutMs = 2000) => () => new HttpSmsGateway({ url, appId: APP, secret: SECRET, signName: '【桃源医院】', timeoutMs, circuitBreaker: { consecutiveFailures: 1000 } });
    const url = (p: string) => `http://127.0.0.1:${gateway.port}${p}`;
    server = await startTestServer(STACKS[0], (db) => [
      ...['ok', 'slow', 'failing', 'malformed'].map((name) => channel({
        id: `sms-${name}`, source: httpSource(),
        destinations: [{ name: 'sms', connector: smsSender(db, at(url(`/${name}`), 300)), queue: retry }],
      })),
      channel({ id: 'sms-refused', source: httpSource(), destinations: [{ name: 'sms', connector: smsSender(db, at(`http://127.0.0.1:${refusedPort}/send`)), queue: retry }] }),
      channel({ id: 'sms-receipts', source: smsReceiptSource(db, at(url('/ok'))), destinations: [{ name: 'log', connector: { type: 'sink', send: async () => ({}) } }] }),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    await gateway.close();
  });

  async function send(channelId: string): Promise<string> {
    const sms = { templateId: 'SMS_PICKUP', params: { code: '8842', pharmacy: '北院药房' }, phone: PHONE };
    return (await request(server.base).post(`/channels/${channelId}`).set('Content-Type', 'application/json').send(sms).expect(202)).body.messageId;
  }

  async function settled(id: string): Promise<MessageView> {
    return eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body as MessageView;
      return m.status === 'sent' && m;
    });
  }

  it('submits the template and params signed with HMAC-SHA256 and keeps only the masked phone', async () => {
    gateway.script('/ok', accepted('GW-1'));
    const id = await send('sms-ok');
    const m = await settled(id);
    expect(m.stages.find((s) => s.name === 'sms')?.response).toBe('submitted as GW-1 to 138****5678');
    const [req] = gateway.received('/ok');
    expect(JSON.parse(req.body)).toMatchObject({ appId: APP, templateId: 'SMS_PICKUP', params: { code: '8842', pharmacy: '北院药房' }, phone: PHONE, outId: id });
    const h = req.headers as Record<string, string>;
    expect(h['x-signature']).toBe(smsSignature(SECRET, APP, h['x-timestamp'], h['x-nonce'], req.body));
    expect(await server.db(SMS_TABLE).where({ message_id: id }).first()).toMatchObject({ gateway_message_id: 'GW-1', phone_masked: '138****5678', status: 'submitted' });
  });

  it('records a delivery receipt against the SMS it reports on', async () => {
    gateway.script('/ok', accepted('GW-2'));
    await settled(await send('sms-ok'));
    const body = JSON.stringify({ receipts: [{ messageId: 'GW-2', status: 'DELIVRD', time: '2026-11-26T08:00:00Z' }] });
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID();
    await request(server.base).post('/channels/sms-receipts').set('Content-Type', 'application/json')
      .set({ 'X-App-Id': APP, 'X-Timestamp': ts, 'X-Nonce': nonce, 'X-Signature': smsSignature(SECRET, APP, ts, nonce, body) })
      .send(body).expect(200, { code: '0', received: 1, matched: 1 });
    expect(await server.db(SMS_TABLE).where({ gateway_message_id: 'GW-2' }).first()).toMatchObject({ status: 'delivered', receipt_code: 'DELIVRD' });
  });

  it('refuses a receipt whose signature does not verify', async () => {
    await request(server.base).post('/channels/sms-receipts').set('Content-Type', 'application/json')
      .set({ 'X-App-Id': APP, 'X-Timestamp': '1', 'X-Nonce': 'n', 'X-Signature': 'forged' })
      .send({ receipts: [{ messageId: 'GW-2', status: 'UNDELIV' }] }).expect(401);
    expect(await server.db(SMS_TABLE).where({ gateway_message_id: 'GW-2' }).first()).toMatchObject({ status: 'delivered' });
  });

  it('records a gateway that does not answer in time as an error and submits on the retry', async () => {
    gateway.script('/slow', 'hang', accepted('GW-3'));
    const m = await settled(await send('sms-slow'));
    expect(m.errors.map((e) => e.error)).toEqual([expect.stringContaining('no complete reply within 300 ms')]);
    expect(gateway.received('/slow')).toHaveLength(2);
  });

  it('records a refused connection as an error and submits once the gateway listens', async () => {
    const id = await send('sms-refused');
    await eventually(async () => ((await request(server.base).get(`/api/messages/${id}`)).body as MessageView).errors.length > 0);
    const late = await new ScriptedHttpPeer().listen(refusedPort);
    try {
      late.script('/send', accepted('GW-4'));
      const m = await settled(id);
      for (const e of m.errors) expect(e.error).toContain('connection refused');
    } finally {
      await late.close();
    }
  });

  it('records a 5xx from the gateway as an error and submits on the retry', async () => {
    gateway.script('/failing', { status: 502, body: 'upstream carrier down' }, accepted('GW-5'));
    const m = await settled(await send('sms-failing'));
    expect(m.errors.map((e) => e.error)).toEqual([expect.stringContaining('HTTP 502')]);
  });

  it('records a reply without a message id as malformed and submits on the retry', async () => {
    gateway.script('/malformed', { status: 200, body: '{"code":"0"}' }, accepted('GW-6'));
    const m = await settled(await send('sms-malformed'));
    expect(m.errors.map((e) => e.error)).toEqual([expect.stringContaining('malformed reply')]);
    expect(m.stages.find((s) => s.name === 'sms')?.response).toContain('GW-6');
  });
});
