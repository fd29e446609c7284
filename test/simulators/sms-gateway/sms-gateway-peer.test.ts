import express from 'express';
import request from 'supertest';
import { HttpSmsGateway } from '../../../adapters/sms/http-sms-gateway';
import { SMS_SEND_PATH, SmsGatewayPeer, smsGatewayPeer } from '../../../simulators/sms-gateway/sms-gateway-peer';
import { ScriptedHttpPeer } from '../../support/scripted-http-peer';

const APP = 'taoyuan-his';
const SECRET = 'sms-sim-test-secret';

async function until<T>(check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) {
    const v = check();
    if (v !== undefined) return v;
  }
  throw new Error('timed out waiting');
}

/** Driven by Lingshu's own HTTP SMS adapter, so the simulator is held to exactly what the product sends and reads. */
describe('SMS gateway simulator', () => {
  const lingshu = new ScriptedHttpPeer();
  let peer: SmsGatewayPeer;
  let control: express.Express;
  const adapter = (secret = SECRET, timeoutMs = 2000) => new HttpSmsGateway({
    url: `${peer.url}${SMS_SEND_PATH}`, appId: APP, secret, signName: '【桃源医院】', timeoutMs, circuitBreaker: { consecutiveFailures: 1000, halfOpenAfterMs: 1000 },
  });
  let gateway: HttpSmsGateway;

  beforeAll(async () => {
    await lingshu.listen();
    lingshu.script('/receipts', { status: 200, body: '{"code":"0"}' });
    peer = smsGatewayPeer({ apps: { [APP]: SECRET }, receiptUrl: `http://127.0.0.1:${lingshu.port}/receipts`, receiptDelayMs: 20 });
    await peer.start();
    control = express().use('/_sim/sms-gateway', peer.control());
    gateway = adapter();
  });
  afterAll(async () => {
    await gateway?.close();
    await peer?.stop();
    await lingshu.close();
  });

  it('takes a templated SMS signed by the product adapter, answers its message id, and sends a receipt the adapter verifies', async () => {
    const id = await gateway.send('SMS_PICKUP', { code: '8842', pharmacy: '北院药房' }, '13812345678', 'msg-1');
    expect(peer.messages.get(id)).toMatchObject({ phone: '13812345678', outId: 'msg-1', text: '【桃源医院】您的取药码为8842，请凭此码到北院药房取药。' });
    const receipt = await until(() => lingshu.received('/receipts').find((r) => r.body.includes(id)));
    expect(gateway.parseReceipts(Buffer.from(receipt.body), receipt.headers)).toEqual([expect.objectContaining({ gatewayMessageId: id, status: 'delivered', code: 'DELIVRD' })]);
    // The product's retry after a lost answer carries the same outId: same id back, one SMS to the patient.
    expect(await gateway.send('SMS_PICKUP', { code: '8842', pharmacy: '北院药房' }, '13812345678', 'msg-1')).toBe(id);
    expect([...peer.messages.values()].filter((m) => m.outId === 'msg-1')).toHaveLength(1);
  });

  it('reports UNDELIV for a number the control route marked unreachable', async () => {
    await request(control).post('/_sim/sms-gateway/unreachable').send({ phone: '13900000000' }).expect(200);
    const id = await gateway.send('SMS_BOOKING', { item: '腹部彩超', time: '11月26日 08:00', place: '超声科3诊室' }, '13900000000', 'msg-2');
    const receipt = await until(() => lingshu.received('/receipts').find((r) => r.body.includes(id)));
    expect(gateway.parseReceipts(Buffer.from(receipt.body), receipt.headers)[0]).toMatchObject({ status: 'failed', code: 'UNDELIV' });
  });

  it('refuses a request signed with another key (HTTP 401) and a template it has not approved (non-zero code)', async () => {
    const wrongKey = adapter('not-the-key');
    await expect(wrongKey.send('SMS_PICKUP', { code: '1', pharmacy: 'x' }, '13812345678', 'msg-3')).rejects.toThrow(/401/);
    await wrongKey.close();
    await expect(gateway.send('SMS_MARKETING', {}, '13812345678', 'msg-4')).rejects.toThrow(/1002/);
    await expect(gateway.send('SMS_PICKUP', { code: '1' }, '13812345678', 'msg-5')).rejects.toThrow(/pharmacy/);
    const outcomes = (await request(control).get('/_sim/sms-gateway/received')).body.map((r: { outcome: string }) => r.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(['refused: signature does not verify', expect.stringContaining('SMS_MARKETING')]));
  });

  it('fails the next call as told (500, then no answer) and then submits again', async () => {
    await request(control).post('/_sim/sms-gateway/fail').query({ mode: '500', times: 1 }).expect(200);
    await expect(gateway.send('SMS_PICKUP', { code: '2', pharmacy: 'x' }, '13812345678', 'msg-6')).rejects.toThrow(/500/);
    await request(control).post('/_sim/sms-gateway/fail').query({ mode: 'timeout', times: 1 }).expect(200);
    const quick = adapter(SECRET, 300);
    await expect(quick.send('SMS_PICKUP', { code: '2', pharmacy: 'x' }, '13812345678', 'msg-6')).rejects.toThrow();
    await quick.close();
    expect(await gateway.send('SMS_PICKUP', { code: '2', pharmacy: 'x' }, '13812345678', 'msg-6')).toMatch(/^GW\d{16}$/);
  });
});
