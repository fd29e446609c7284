import express from 'express';
import request from 'supertest';
import { PharmacyPeer, pharmacyPeer } from '../../../simulators/pharmacy/pharmacy-peer';
import { pharmacyHeaders, signatureProblem } from '../../../simulators/pharmacy/pharmacy-signature';
import { ScriptedHttpPeer } from '../../support/scripted-http-peer';

const APP = 'taoyuan';
const SECRET = 'pharmacy-test-secret';
const rx = (rxNo: string) => ({
  rxNo, pickupCode: '604218', delivery: 'pickup', patient: { id: 'P000100002', name: '张建国', phone: '13705712345' },
  drugs: [{ code: 'X-A10BA02', name: '盐酸二甲双胍片', spec: '0.5g*48片', quantity: 2, unit: '盒', usage: '口服 一次0.5g 一日三次' }],
});

describe('pharmacy simulator', () => {
  const lingshu = new ScriptedHttpPeer();
  let peer: PharmacyPeer;
  let control: express.Express;
  const api = async (path: string, body?: unknown, secret = SECRET) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const res = await fetch(`${peer.url}/api${path}`, {
      method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : text,
      headers: { 'content-type': 'application/json', ...pharmacyHeaders(secret, APP, text) },
    });
    const raw = await res.text();
    return { status: res.status, raw, body: (() => { try { return JSON.parse(raw); } catch { return undefined; } })() };
  };

  beforeAll(async () => {
    await lingshu.listen();
    lingshu.script('/pharmacy-events', { status: 200, body: '{"code":"0"}' });
    peer = pharmacyPeer({ apps: { [APP]: SECRET }, callbackUrl: `http://127.0.0.1:${lingshu.port}/pharmacy-events` });
    await peer.start();
    control = express().use('/_sim/pharmacy', peer.control());
  });
  afterAll(async () => {
    await peer?.stop();
    await lingshu.close();
  });

  it('receives a prescription, is accepted and dispensed by its pharmacist, and reports the 核销 with 追溯码, signed', async () => {
    const received = await api('/prescriptions', rx('RX20261125001'));
    expect(received.body).toMatchObject({ code: '0', data: { rxNo: 'RX20261125001', status: 'received' } });
    expect(received.raw).not.toContain('604218');
    expect((await api('/prescriptions', rx('RX20261125001'))).body.data.orderId).toBe(received.body.data.orderId);

    await request(control).post('/_sim/pharmacy/prescriptions/RX20261125001/accept').expect(200);
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261125001/dispense').expect(200);
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261125001/pickup').send({ pickupCode: '000000' }).expect(409);
    const { body } = await request(control).post('/_sim/pharmacy/prescriptions/RX20261125001/pickup').send({ pickupCode: '604218' }).expect(200);
    expect(body.callback.status).toBe(200);

    const events = lingshu.received('/pharmacy-events');
    expect(events.map((e) => JSON.parse(e.body).event)).toEqual(['accepted', 'dispensed', 'redeemed']);
    const redeemed = events[2];
    const h = (n: string) => String(redeemed.headers[n]);
    expect(signatureProblem(SECRET, { appId: h('x-app-id'), timestamp: h('x-timestamp'), sign: h('x-sign') }, Buffer.from(redeemed.body))).toBeUndefined();
    expect(JSON.parse(redeemed.body)).toMatchObject({ rxNo: 'RX20261125001', pickupCode: '604218', status: 'picked_up', drugs: [expect.objectContaining({ code: 'X-A10BA02', traceCode: expect.stringMatching(/^8\d{19}$/) })] });
    expect((await api('/prescriptions/RX20261125001')).body.data.status).toBe('picked_up');
  });

  it('keeps its callbacks while switched off, answering the 核销 on GET instead', async () => {
    await api('/prescriptions', rx('RX20261125009'));
    const before = lingshu.received('/pharmacy-events').length;
    await request(control).post('/_sim/pharmacy/callbacks/off').expect(200);
    try {
      const accepted = await request(control).post('/_sim/pharmacy/prescriptions/RX20261125009/accept').expect(200);
      expect(accepted.body.callback).toEqual({ sent: false, reason: 'callbacks switched off' });
      await request(control).post('/_sim/pharmacy/prescriptions/RX20261125009/pickup').send({ pickupCode: '604218' }).expect(200);
    } finally {
      await request(control).post('/_sim/pharmacy/callbacks/on').expect(200);
    }
    expect(lingshu.received('/pharmacy-events')).toHaveLength(before);
    const { data } = (await api('/prescriptions/RX20261125009')).body;
    expect(data.status).toBe('picked_up');
    expect(data.redemption.drugs).toEqual([expect.objectContaining({ code: 'X-A10BA02', traceCode: expect.stringMatching(/^8\d{19}$/), lot: expect.stringMatching(/^L\d{8}$/) })]);
  });

  it('dispatches a delivery order (配送中) and reports it, but not an order picked up at the counter', async () => {
    await api('/prescriptions', { ...rx('RX20261125010'), delivery: 'delivery' });
    await api('/prescriptions', rx('RX20261125011'));
    for (const no of ['RX20261125010', 'RX20261125011']) await request(control).post(`/_sim/pharmacy/prescriptions/${no}/accept`).expect(200);
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261125011/dispatch').expect(409);
    const { body } = await request(control).post('/_sim/pharmacy/prescriptions/RX20261125010/dispatch').expect(200);
    expect(body.order.status).toBe('delivering');
    expect(JSON.parse(lingshu.received('/pharmacy-events').at(-1)!.body)).toMatchObject({ event: 'delivering', rxNo: 'RX20261125010' });
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261125010/pickup').send({ pickupCode: '604218' }).expect(200);
  });

  it('refuses a request signed with another key, a prescription without drugs, and a resend with other content', async () => {
    expect(await api('/prescriptions', rx('RX20261125002'), 'wrong-secret')).toMatchObject({ status: 401, body: { code: 'SIGN_ERROR' } });
    expect(await api('/prescriptions', { ...rx('RX20261125002'), drugs: [] })).toMatchObject({ status: 400, body: { code: 'PARAM_ERROR' } });
    expect((await api('/prescriptions', rx('RX20261125002'))).status).toBe(200);
    expect(await api('/prescriptions', { ...rx('RX20261125002'), pickupCode: '111111' })).toMatchObject({ status: 409, body: { code: 'RX_CONFLICT' } });
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261125002/reject').send({ reason: '处方用量超出规定' }).expect(200);
    expect(JSON.parse(lingshu.received('/pharmacy-events').at(-1)!.body)).toMatchObject({ event: 'rejected', reason: '处方用量超出规定' });
  });

  it('answers a truncated body while told to, keeping nothing, then takes the prescription', async () => {
    await request(control).post('/_sim/pharmacy/fail').query({ mode: 'malformed', times: 1 }).expect(200);
    const broken = await api('/prescriptions', rx('RX20261125003'));
    expect([broken.status, broken.body]).toEqual([200, undefined]);
    expect(peer.orders.has('RX20261125003')).toBe(false);
    expect((await api('/prescriptions', rx('RX20261125003'))).body.data.status).toBe('received');
  });
});
