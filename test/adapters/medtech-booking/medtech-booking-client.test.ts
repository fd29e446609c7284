import { MedtechBookingRefusal, MedtechBookingUnavailable } from '../../../adapters/medtech-booking/medtech-booking-api';
import { MedtechBookingClient } from '../../../adapters/medtech-booking/medtech-booking-client';
import { medtechBookingPeer, MedtechBookingPeer } from '../../../simulators/medtech-booking/medtech-booking-peer';

const TOKEN = 'client-test-token';
const DR = '210102015';
// Generous, so a call answered late on a loaded CI machine is not mistaken for an outage; only the test of a
// platform that never answers uses a short timeout of its own.
const PATIENT_MS = 5000;

describe('the 医技预约 platform client against the simulator', () => {
  let peer: MedtechBookingPeer;
  let client: MedtechBookingClient;

  beforeAll(async () => {
    peer = medtechBookingPeer({ port: 0, token: TOKEN, seedDays: 1 });
    await peer.start();
    client = new MedtechBookingClient({ url: peer.url, token: TOKEN, timeoutMs: PATIENT_MS });
  });
  afterAll(async () => {
    await client?.close();
    await peer?.stop();
  });

  it('lists items and the 号源 of one item at one campus with what is left', async () => {
    expect((await client.items()).map((i) => i.code)).toContain(DR);
    const slots = await client.slots({ itemCode: DR, campus: 'BY' });
    expect(slots.length).toBeGreaterThan(0);
    expect(slots.every((s) => s.itemCode === DR && s.campus === 'BY' && s.available === s.capacity)).toBe(true);
  });

  it('books and cancels, each answer carrying the slot as it now is', async () => {
    const [slot] = await client.slots({ itemCode: DR, campus: 'TY' });
    const booked = await client.book({ slotId: slot.id, orderNo: 'sr-client-1', patientId: 'p-1', itemCode: DR });
    expect(booked).toMatchObject({ status: 'booked', slot: { id: slot.id, available: slot.available - 1 } });
    expect(await client.cancel(booked.id, '患者取消')).toMatchObject({ status: 'cancelled', cancelReason: '患者取消', slot: { available: slot.available } });
  });

  it('turns a refusal into a MedtechBookingRefusal with the platform\'s code and message', async () => {
    const err = await client.book({ slotId: 'NO-SUCH-SLOT', orderNo: 'sr-client-2', patientId: 'p-2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MedtechBookingRefusal);
    expect(err).toMatchObject({ httpStatus: 404, code: 'SLOT_NOT_FOUND', platformMessage: expect.stringContaining('不存在') });
  });

  it.each(['500', 'malformed'] as const)('reports a platform answering %s as unavailable', async (mode) => {
    peer.fail(mode, 1);
    await expect(client.items()).rejects.toBeInstanceOf(MedtechBookingUnavailable);
  });

  it('reports a platform that does not answer within the timeout as unavailable', async () => {
    const impatient = new MedtechBookingClient({ url: peer.url, token: TOKEN, timeoutMs: 300 });
    peer.fail('timeout', 1);
    await expect(impatient.items()).rejects.toThrow(/no complete answer within 300 ms/);
    await impatient.close();
  });

  it('reports our token being refused as unavailable, not as a refusal to show the patient', async () => {
    const wrong = new MedtechBookingClient({ url: peer.url, token: 'wrong', timeoutMs: PATIENT_MS });
    await expect(wrong.items()).rejects.toThrow(/refused our token/);
    await wrong.close();
  });

  it('reports a platform that is not listening as unavailable', async () => {
    const nowhere = new MedtechBookingClient({ url: 'http://127.0.0.1:9', token: TOKEN, timeoutMs: PATIENT_MS });
    await expect(nowhere.items()).rejects.toBeInstanceOf(MedtechBookingUnavailable);
    await nowhere.close();
  });
});
