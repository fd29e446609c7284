import express from 'express';
import request from 'supertest';
import { sm2 } from 'sm-crypto-v2';
import { sealEnvelope, verifyAnswer } from '../../../simulators/regulator/regulator-envelope';
import { REGULATOR_REPORT_PATH, RegulatorPeer, regulatorPeer } from '../../../simulators/regulator/regulator-peer';

const SECRET = 'regulator-test-secret';
const hospitalKeys = sm2.generateKeyPairHex();
const app = { appCode: 'H33010600001', secret: SECRET, publicKey: hospitalKeys.publicKey, privateKey: hospitalKeys.privateKey };
const consultation = { dataSet: 'consultation', records: [{ id: 'ENC-0001', patientName: '李梅', doctorCode: 'D1001', mode: '图文', startedAt: '2026-11-25T09:00:00+08:00' }] };

describe('监管平台 simulator', () => {
  let peer: RegulatorPeer;
  let control: express.Express;
  const report = async (body: unknown) => {
    const res = await fetch(`${peer.url}${REGULATOR_REPORT_PATH}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as { code: number; message: string; data?: Record<string, unknown>; timestamp: number; signData: string } };
  };

  beforeAll(async () => {
    peer = regulatorPeer({ apps: [app] });
    await peer.start();
    control = express().use('/_sim/regulator', peer.control());
  });
  afterAll(async () => peer?.stop());

  it('takes an SM4-encrypted, SM2-signed report, keeps its records and answers with a receipt signed by the platform', async () => {
    const { status, body } = await report(sealEnvelope(consultation, app));
    expect(status).toBe(200);
    expect(body).toMatchObject({ code: 0, message: '成功', data: { accepted: 1, receiptNo: expect.stringMatching(/^JG\d{14}$/) } });
    const { regulatorPublicKey } = (await request(control).get('/_sim/regulator/')).body;
    expect(verifyAnswer({ code: body.code, message: body.message, timestamp: body.timestamp, data: JSON.stringify(body.data) }, body.signData, regulatorPublicKey)).toBe(true);
    const records = (await request(control).get('/_sim/regulator/records').query({ dataSet: 'consultation' })).body;
    expect(records).toEqual([expect.objectContaining({ id: 'ENC-0001', versions: 1, record: expect.objectContaining({ patientName: '李梅' }) })]);
  });

  it('takes an SM3-digested report under SM4-CBC, and counts a resent record as a new version of the same record', async () => {
    expect((await report(sealEnvelope(consultation, { ...app, privateKey: undefined }, { signType: 'SM3', encType: 'SM4-CBC' }))).body.code).toBe(0);
    const [record] = (await request(control).get('/_sim/regulator/records').query({ dataSet: 'consultation' })).body;
    expect(record.versions).toBe(2);
  });

  it('refuses a tampered ciphertext, a signature by another key, a stale timestamp and an unknown data set, naming each', async () => {
    const sealed = sealEnvelope(consultation, app);
    const flipped = sealed.data.encData.slice(0, -2) + (sealed.data.encData.endsWith('00') ? '11' : '00');
    const tampered = await report({ ...sealed, data: { encData: flipped } });
    expect(['10004', '10005']).toContain(String(tampered.body.code));
    const intruder = sm2.generateKeyPairHex();
    expect((await report(sealEnvelope(consultation, { ...app, privateKey: intruder.privateKey }))).body).toMatchObject({ code: 10005, message: 'SM2 签名验证失败' });
    expect((await report(sealEnvelope(consultation, app, { timestamp: Math.floor(Date.now() / 1000) - 3600 }))).body.code).toBe(10003);
    expect((await report(sealEnvelope({ dataSet: 'gossip', records: [{ id: '1' }] }, app))).body.code).toBe(10006);
    expect((await report({ appCode: 'UNKNOWN', version: '1.0.0', encType: 'SM4', signType: 'SM3', timestamp: 1, data: { encData: 'AA' }, signData: 'x' })).body.code).toBe(10002);
  });

  it('answers 500 while told to, accepting nothing, then accepts again', async () => {
    await request(control).post('/_sim/regulator/fail').query({ mode: '500', times: 1 }).expect(200);
    const before = peer.records.size;
    const envelope = sealEnvelope({ dataSet: 'prescription', records: [{ id: 'RX-1' }] }, app);
    expect((await report(envelope)).status).toBe(500);
    expect(peer.records.size).toBe(before);
    expect((await report(envelope)).body.code).toBe(0);
  });
});
