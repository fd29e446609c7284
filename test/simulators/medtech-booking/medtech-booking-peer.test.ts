import express from 'express';
import request from 'supertest';
import { MedtechBookingPeer, medtechBookingPeer } from '../../../simulators/medtech-booking/medtech-booking-peer';
import { ScriptedHttpPeer } from '../../support/scripted-http-peer';

const TOKEN = 'medtech-test-token';
const DR = '210102015';

describe('医技预约 simulator', () => {
  const hospital = new ScriptedHttpPeer();
  let peer: MedtechBookingPeer;
  let control: express.Express;

  const api = async (path: string, init: { method?: string; body?: unknown; token?: string; timeoutMs?: number } = {}) => {
    const res = await fetch(`${peer.url}/api${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'), body: init.body ? JSON.stringify(init.body) : undefined,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${init.token ?? TOKEN}` }, signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
    });
    return { status: res.status, body: (await res.json()) as { code: string; message?: string; data: any } };
  };

  beforeAll(async () => {
    await hospital.listen();
    hospital.script('/notify', { status: 200, body: '{"code":"0"}' });
    peer = medtechBookingPeer({ token: TOKEN, seedDays: 2, notifyUrl: `http://127.0.0.1:${hospital.port}/notify` });
    await peer.start();
    control = express().use('/_sim/medtech-booking', peer.control());
  });
  afterAll(async () => {
    await peer?.stop();
    await hospital.close();
  });

  it('lists 号源 for an exam item, books one for an order, finds it by order number and gives the place back on cancel', async () => {
    const slots = (await api(`/slots?itemCode=${DR}&campus=TY`)).body.data;
    expect(slots.length).toBeGreaterThan(0);
    const slot = slots[0];
    expect(slot).toMatchObject({ itemName: '胸部X线摄影(DR)', campusName: '桃源院区', available: slot.capacity });

    const booked = await api('/bookings', { body: { slotId: slot.id, orderNo: 'O202611250001', patientId: 'P000100001', patientName: '李梅', itemCode: DR } });
    expect(booked.status).toBe(201);
    expect(booked.body.data).toMatchObject({ slotId: slot.id, status: 'booked', queueNo: 1, precautions: expect.stringContaining('金属') });
    // A retry of the same booking (the answer was lost) is the same booking, not a second place.
    const again = await api('/bookings', { body: { slotId: slot.id, orderNo: 'O202611250001', patientId: 'P000100001' } });
    expect([again.status, again.body.data.id]).toEqual([200, booked.body.data.id]);
    expect((await api(`/slots?itemCode=${DR}&campus=TY&date=${slot.date}`)).body.data.find((s: { id: string }) => s.id === slot.id).available).toBe(slot.capacity - 1);
    expect((await api('/bookings?orderNo=O202611250001')).body.data.map((b: { id: string }) => b.id)).toEqual([booked.body.data.id]);

    const cancelled = await api(`/bookings/${booked.body.data.id}/cancel`, { body: { reason: '患者改期' } });
    expect(cancelled.body.data).toMatchObject({ status: 'cancelled', cancelReason: '患者改期' });
    expect((await api(`/bookings/${booked.body.data.id}`)).body.data.slot.available).toBe(slot.capacity);
  });

  it('refuses an unknown slot, a full slot, an order already booked elsewhere and a wrong token', async () => {
    expect(await api('/bookings', { body: { slotId: 'NO-SUCH-SLOT', orderNo: 'O1', patientId: 'P1' } })).toMatchObject({ status: 404, body: { code: 'SLOT_NOT_FOUND' } });
    const [first, second] = (await api(`/slots?itemCode=${DR}&campus=BY`)).body.data;
    await request(control).patch(`/_sim/medtech-booking/slots/${first.id}`).send({ capacity: 1 }).expect(200);
    expect((await api('/bookings', { body: { slotId: first.id, orderNo: 'O2', patientId: 'P2' } })).status).toBe(201);
    expect(await api('/bookings', { body: { slotId: first.id, orderNo: 'O3', patientId: 'P3' } })).toMatchObject({ status: 409, body: { code: 'SLOT_FULL' } });
    expect(await api('/bookings', { body: { slotId: second.id, orderNo: 'O2', patientId: 'P2' } })).toMatchObject({ status: 409, body: { code: 'ORDER_ALREADY_BOOKED' } });
    expect(await api('/slots', { token: 'wrong' })).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
  });

  it('cancels the bookings of a slot stopped on the control route (停诊) and reports each to the hospital', async () => {
    const [slot] = (await api(`/slots?itemCode=310701001&campus=XH`)).body.data;
    const booked = (await api('/bookings', { body: { slotId: slot.id, orderNo: 'O-ECG-1', patientId: 'P000100002' } })).body.data;
    const { body } = await request(control).post(`/_sim/medtech-booking/slots/${slot.id}/stop`).send({ reason: '设备故障' }).expect(200);
    expect(body.cancelled).toEqual([booked.id]);
    const [note] = hospital.received('/notify');
    expect(JSON.parse(note.body)).toMatchObject({ event: 'booking.cancelled', reason: '设备故障', booking: { id: booked.id, status: 'cancelled' } });
    expect(note.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(await api('/bookings', { body: { slotId: slot.id, orderNo: 'O-ECG-2', patientId: 'P2' } })).toMatchObject({ status: 409, body: { code: 'SLOT_STOPPED' } });
  });

  it('fails the next calls as told — no answer, then a truncated body — without booking anything, then answers again', async () => {
    const [slot] = (await api(`/slots?itemCode=${DR}&campus=TY`)).body.data;
    await request(control).post('/_sim/medtech-booking/fail').query({ mode: 'timeout', times: 1 }).expect(200);
    await expect(api('/bookings', { body: { slotId: slot.id, orderNo: 'O-T', patientId: 'P9' }, timeoutMs: 300 })).rejects.toThrow(/abort|timeout/i);
    await request(control).post('/_sim/medtech-booking/fail').query({ mode: 'malformed', times: 1 }).expect(200);
    await expect(api('/bookings', { body: { slotId: slot.id, orderNo: 'O-T', patientId: 'P9' } })).rejects.toThrow(/JSON/);
    expect((await api('/bookings?orderNo=O-T')).body.data).toEqual([]);
    const received = (await request(control).get('/_sim/medtech-booking/received')).body.map((r: { outcome: string }) => r.outcome);
    expect(received).toEqual(expect.arrayContaining(['simulated timeout', 'simulated malformed']));
  });
});
