import express from 'express';
import * as soap from 'soap';
import request from 'supertest';
import { PharmacyPeer, pharmacyPeer } from '../../../simulators/pharmacy/pharmacy-peer';
import { pharmacyHeaders, pharmacySign } from '../../../simulators/pharmacy/pharmacy-signature';

const APP = 'beiyuan';
const OTHER_APP = 'taoyuan';
const SECRET = 'pharmacy-soap-secret';
const rx = (rxNo: string) => ({
  rxNo, pickupCode: '381906', delivery: 'pickup', patient: { id: 'P000100002', name: '张建国' },
  drugs: [{ code: 'X-C10AA05', name: '阿托伐他汀钙片', spec: '20mg*7片', quantity: 1, unit: '盒', usage: '口服 一次20mg 一日一次' }],
});

type Operation = 'ReceivePrescription' | 'QueryPrescription' | 'CancelPrescription';
interface Answer { code: string; message?: string; data?: string }
type AsyncOps = Record<`${Operation}Async`, (args: object) => Promise<[Answer]>>;

/** The pharmacy's SOAP service driven from its WSDL by the `soap` client, as a hospital integration would call it. */
describe('pharmacy simulator over SOAP', () => {
  let peer: PharmacyPeer;
  let control: express.Express;
  let client: soap.Client & AsyncOps;

  /** Signs `data` the way the web API signs a body, with the app's key (or another). */
  const call = async (operation: Operation, data: unknown, { appId = APP, secret = SECRET } = {}) => {
    const text = JSON.stringify(data);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const [answer] = await client[`${operation}Async`]({ appId, timestamp, sign: pharmacySign(secret, appId, timestamp, text), data: text });
    return { ...answer, data: answer.data ? (JSON.parse(answer.data) as Record<string, unknown>) : undefined };
  };

  beforeAll(async () => {
    peer = pharmacyPeer({ apps: { [APP]: SECRET, [OTHER_APP]: 'another-secret' }, api: 'soap' });
    await peer.start();
    control = express().use('/_sim/pharmacy', peer.control());
    client = (await soap.createClientAsync(peer.wsdlUrl)) as soap.Client & AsyncOps;
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('publishes receive, query and cancel in its WSDL, at the address it listens on', () => {
    const ports = client.describe().PrescriptionService.PrescriptionServiceSoap as Record<string, unknown>;
    expect(Object.keys(ports).sort()).toEqual(['CancelPrescription', 'QueryPrescription', 'ReceivePrescription']);
    expect((client as unknown as { wsdl: { services: Record<string, { ports: Record<string, { location: string }> }> } })
      .wsdl.services.PrescriptionService.ports.PrescriptionServiceSoap.location).toBe(`${peer.url}/soap/PrescriptionService.asmx`);
  });

  it('takes a signed prescription, answers a query with its status and cancels it before dispensing', async () => {
    const received = await call('ReceivePrescription', rx('RX20261126101'));
    expect(received).toMatchObject({ code: '0', data: { rxNo: 'RX20261126101', status: 'received' } });
    expect(JSON.stringify(received)).not.toContain('381906');
    // A resend of the very same prescription is the same order, as on the web API.
    expect((await call('ReceivePrescription', rx('RX20261126101'))).data?.orderId).toBe(received.data?.orderId);

    await request(control).post('/_sim/pharmacy/prescriptions/RX20261126101/accept').expect(200);
    expect((await call('QueryPrescription', { rxNo: 'RX20261126101' })).data).toMatchObject({ status: 'accepted' });
    const cancelled = await call('CancelPrescription', { rxNo: 'RX20261126101', reason: '患者退费' });
    expect(cancelled.data).toMatchObject({ status: 'cancelled', history: expect.arrayContaining([expect.objectContaining({ status: 'cancelled', note: '患者退费' })]) });
    expect(peer.orders.get('RX20261126101')?.status).toBe('cancelled');
  });

  it('answers a request signed with another key with a SOAP fault and keeps nothing', async () => {
    await expect(call('ReceivePrescription', rx('RX20261126102'), { secret: 'wrong-secret' })).rejects.toThrow(/SIGN_ERROR: signature does not verify/);
    expect(peer.orders.has('RX20261126102')).toBe(false);
    expect(peer.received.at(-1)).toMatchObject({ path: '/soap/PrescriptionService.asmx', outcome: 'refused: signature does not verify' });
  });

  it('refuses a prescription without drugs, a resend with other content and another hospital\'s prescription with their codes', async () => {
    expect(await call('ReceivePrescription', { ...rx('RX20261126103'), drugs: [] })).toMatchObject({ code: 'PARAM_ERROR', message: expect.stringContaining('drugs') });
    expect((await call('ReceivePrescription', rx('RX20261126103'))).code).toBe('0');
    expect(await call('ReceivePrescription', { ...rx('RX20261126103'), pickupCode: '000000' })).toMatchObject({ code: 'RX_CONFLICT' });
    expect(await call('QueryPrescription', { rxNo: 'RX20261126103' }, { appId: OTHER_APP, secret: 'another-secret' })).toMatchObject({ code: 'RX_NOT_FOUND' });
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261126103/accept').expect(200);
    await request(control).post('/_sim/pharmacy/prescriptions/RX20261126103/dispense').expect(200);
    expect(await call('CancelPrescription', { rxNo: 'RX20261126103' })).toMatchObject({ code: 'STATUS_ERROR' });
  });

  it('fails as told with a SOAP fault or a truncated envelope, changing nothing', async () => {
    await request(control).post('/_sim/pharmacy/fail').query({ mode: '500', times: 1 }).expect(200);
    await expect(call('ReceivePrescription', rx('RX20261126104'))).rejects.toThrow(/系统繁忙/);
    await request(control).post('/_sim/pharmacy/fail').query({ mode: 'malformed', times: 1 }).expect(200);
    // The soap client rejects an envelope it cannot parse with a plain { Fault } object, not an Error.
    await expect(call('ReceivePrescription', rx('RX20261126104'))).rejects.toMatchObject({ Fault: { faultstring: 'Invalid XML' } });
    expect(peer.orders.has('RX20261126104')).toBe(false);
    expect((await call('ReceivePrescription', rx('RX20261126104'))).code).toBe('0');
  });

  it('offers only the protocols it is configured for', async () => {
    const body = JSON.stringify(rx('RX20261126105'));
    const post = (p: PharmacyPeer) => fetch(`${p.url}/api/prescriptions`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...pharmacyHeaders(SECRET, APP, body) } });
    expect((await post(peer)).status).toBe(404);
    const both = pharmacyPeer({ apps: { [APP]: SECRET }, api: 'both' });
    const jsonOnly = pharmacyPeer({ apps: { [APP]: SECRET } });
    await Promise.all([both.start(), jsonOnly.start()]);
    try {
      expect((await post(both)).status).toBe(200);
      expect((await fetch(both.wsdlUrl)).status).toBe(200);
      expect((await fetch(jsonOnly.wsdlUrl)).status).toBe(404);
    } finally {
      await Promise.all([both.stop(), jsonOnly.stop()]);
    }
  });
});
