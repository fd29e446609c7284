import type { Appointment, Bundle, ChargeItem, OperationOutcome, Patient, ServiceRequest, Slot } from '@medplum/fhirtypes';
import { CHARGE_CODE_SYSTEM, CHARGE_STATUS } from '../../fhir-resources/billing/billing-vocabulary';
import { MEDTECH_BOOKING_SYSTEM, MEDTECH_SLOT_SYSTEM, SLOT_REMAINING_EXTENSION } from '../../fhir-resources/profiles/booking-vocabulary';
import { medtechBookingPeer, MedtechBookingPeer } from '../../simulators/medtech-booking/medtech-booking-peer';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { freePort } from '../support/engine-process';
import { eventually } from '../support/engine-server';
import { startHospitalEngine, type HospitalEngine } from '../support/hospital-engine';

/**
 * Booking after payment end to end: the simulated 医技预约 platform over HTTP, a real engine running the
 * medtech-slots and medtech-booking channels, and the FHIR API with security, driven with demo patient tokens.
 */
const TOKEN = 'medtech-e2e-token';
const DR = '210102015';
const CT = '210300101';

interface PlatformBookingView { id: string; orderNo: string; slotId: string; status: string; cancelReason?: string }

for (const kind of ['sqlite', 'postgres'] as const) describe(`booking a paid medtech order on the 医技预约 platform (${kind})`, () => {
  let h: HospitalEngine;
  let simulators: SimulatorHost;
  let peer: MedtechBookingPeer;
  let base: string;
  let sim: string;
  const tokens: Record<string, string> = {};
  const patients: Record<'li' | 'wang', string> = { li: '', wang: '' };

  beforeAll(async () => {
    const port = await freePort();
    peer = medtechBookingPeer({ port: 0, token: TOKEN, seedDays: 2, notifyUrl: `http://127.0.0.1:${port}/channels/medtech-booking/notify` });
    simulators = await startSimulatorHost([peer], { port: 0 });
    sim = `http://127.0.0.1:${simulators.port}/_sim/medtech-booking`;
    h = await startHospitalEngine({
      db: kind, port,
      hospital: (defaults) => ({
        ...defaults,
        channels: {
          ...defaults.channels,
          medtechBooking: { enabled: true, url: peer.url, token: TOKEN, timeoutMs: 2000 },
          medtechSlots: { enabled: true, cron: '*/2 * * * * *' },
        },
      }),
    });
    base = h.base;
    const repo = h.store();
    for (const [key, name] of [['li', '李梅'], ['wang', '王五']] as const) {
      patients[key] = (await repo.create<Patient>({ resourceType: 'Patient', name: [{ text: name }], gender: 'female' })).resource.id!;
      tokens[key] = await h.token('patient', `Patient/${patients[key]}`);
    }
  });

  afterAll(async () => {
    await simulators?.stop();
    await h?.stop();
  });

  async function fhirCall<T>(as: string, path: string, body?: object): Promise<{ status: number; body: T }> {
    const res = await fetch(`${base}/fhir/${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${as}`, 'content-type': 'application/fhir+json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  type Answer = Omit<Appointment, 'resourceType'> & Omit<OperationOutcome, 'resourceType' | 'id'> & { resourceType: string };
  const book = (as: string, order: string, slot: string) =>
    fhirCall<Answer>(as, `ServiceRequest/${order}/$book`, { resourceType: 'Parameters', parameter: [{ name: 'slot', valueReference: { reference: `Slot/${slot}` } }] });
  const cancel = (as: string, order: string) =>
    fhirCall<Answer>(as, `ServiceRequest/${order}/$cancel-booking`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: '临时有事' }] });
  const platformBookings = async (): Promise<PlatformBookingView[]> => (await (await fetch(`${sim}/bookings`)).json()) as PlatformBookingView[];
  const outcomeText = (o: Pick<OperationOutcome, 'issue'>) => o.issue?.map((i) => i.diagnostics).join('; ') ?? '';

  /** A lab / exam order of the patient with one charge line in the given state. */
  async function order(patient: string, item: string, charge: string): Promise<string> {
    const repo = h.store();
    const code = { coding: [{ system: CHARGE_CODE_SYSTEM, code: item }] };
    const sr = (await repo.create<ServiceRequest>({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient}` }, code })).resource;
    await repo.create<ChargeItem>({ resourceType: 'ChargeItem', status: charge as ChargeItem['status'], code, subject: { reference: `Patient/${patient}` }, service: [{ reference: `ServiceRequest/${sr.id}` }] });
    return sr.id!;
  }

  /** The free Slots of an item at the campus, as a patient finds them after the sync. */
  async function freeSlots(item: string, campus = 'TY'): Promise<Slot[]> {
    return eventually(async () => {
      const found = await fhirCall<Bundle>(tokens.li, `Slot?service-type=${encodeURIComponent(`${CHARGE_CODE_SYSTEM}|${item}`)}&status=free&_count=100`);
      const slots = (found.body.entry ?? []).map((e) => e.resource as Slot).filter((s) => s.identifier?.[0]?.value?.includes(`-${campus}-`));
      return slots.length > 0 && slots.sort((a, b) => a.start.localeCompare(b.start));
    });
  }

  const platformIdOf = (slot: Slot) => slot.identifier!.find((i) => i.system === MEDTECH_SLOT_SYSTEM)!.value!;

  it('puts the platform\'s 号源 into the store as Slots a patient can search, each under its item × campus Schedule at the campus', async () => {
    const slots = await freeSlots(DR);
    expect(slots[0]).toMatchObject({ status: 'free', serviceType: [{ coding: [{ code: DR }] }], extension: expect.arrayContaining([{ url: SLOT_REMAINING_EXTENSION, valueInteger: expect.any(Number) }]) });
    const platform = peer.state.slots.get(platformIdOf(slots[0]))!;
    expect(slots[0].start).toBe(`${platform.date}T${platform.start}:00+08:00`);
    const schedule = await fhirCall<Bundle>(tokens.li, `Schedule?_id=${slots[0].schedule.reference!.split('/')[1]}&_include=Schedule:actor`);
    const campus = schedule.body.entry?.map((e) => e.resource).find((r) => r?.resourceType === 'Location');
    expect(campus).toMatchObject({ name: '桃源院区' });
    // What a booking page asks: this campus's free 号源 from a given time on.
    const atCampus = await fhirCall<Bundle>(tokens.li, `Slot?schedule.actor=Location/${campus!.id}&status=free&start=ge${encodeURIComponent(slots[0].start)}&_count=200`);
    const found = (atCampus.body.entry ?? []).map((e) => e.resource as Slot);
    expect(found.map((s) => s.id)).toContain(slots[0].id);
    expect(found.every((s) => s.identifier![0].value!.includes('-TY-') && s.start >= slots[0].start)).toBe(true);
  });

  describe('once the 号源 are in the store', () => {
    // The sync has done its part; stopped, it neither refreshes what the operations write nor takes a failure meant for them.
    beforeAll(() => h.engine.undeploy('medtech-slots'));

    it('books a paid order: the Appointment is booked for the patient and the platform shows the booking', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const [slot] = await freeSlots(DR);
      const res = await book(tokens.li, sr, slot.id!);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        resourceType: 'Appointment', status: 'booked', basedOn: [{ reference: `ServiceRequest/${sr}` }], slot: [{ reference: `Slot/${slot.id}` }],
        start: slot.start, end: slot.end, participant: expect.arrayContaining([expect.objectContaining({ actor: { reference: `Patient/${patients.li}` } })]),
        patientInstruction: expect.stringContaining('金属'),
      });
      const bookingId = res.body.identifier!.find((i) => i.system === MEDTECH_BOOKING_SYSTEM)!.value;
      expect((await platformBookings()).find((b) => b.id === bookingId)).toMatchObject({ orderNo: sr, slotId: platformIdOf(slot), status: 'booked' });
      // The platform's answer carries the slot's new count: the Slot shows the place taken at once.
      const remaining = (s: Slot) => s.extension?.find((e) => e.url === SLOT_REMAINING_EXTENSION)?.valueInteger;
      expect(remaining((await fhirCall<Slot>(tokens.li, `Slot/${slot.id}`)).body)).toBe(remaining(slot)! - 1);
      const mine = await fhirCall<Bundle>(tokens.li, `Appointment?based-on=ServiceRequest/${sr}`);
      expect(mine.body.entry?.map((e) => (e.resource as Appointment).status)).toEqual(['booked']);
    });

    it('refuses an unpaid order and asks the platform nothing', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.unpaid);
      const [slot] = await freeSlots(DR);
      const res = await book(tokens.li, sr, slot.id!);
      expect(res.status).toBe(409);
      expect(outcomeText(res.body)).toContain('尚未缴费');
      expect((await platformBookings()).some((b) => b.orderNo === sr)).toBe(false);
    });

    it('refuses a second booking of an order already booked', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const slots = await freeSlots(DR);
      expect((await book(tokens.li, sr, slots[0].id!)).status).toBe(200);
      const again = await book(tokens.li, sr, slots[1].id!);
      expect(again.status).toBe(409);
      expect(outcomeText(again.body)).toContain('已预约');
    });

    it('refuses a slot of another exam item', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const [ctSlot] = await freeSlots(CT);
      const res = await book(tokens.li, sr, ctSlot.id!);
      expect(res.status).toBe(400);
      expect(outcomeText(res.body)).toContain('与医嘱项目不符');
    });

    it('refuses a full slot with the platform\'s reason', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const slot = (await freeSlots(DR, 'BY'))[0];
      await fetch(`${sim}/slots/${platformIdOf(slot)}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ capacity: 0 }) });
      const res = await book(tokens.li, sr, slot.id!);
      expect(res.status).toBe(409);
      expect(outcomeText(res.body)).toContain('已约满');
      expect(outcomeText(res.body)).toContain('SLOT_FULL');
    });

    it('does not let another patient book the order', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const [slot] = await freeSlots(DR);
      const res = await book(tokens.wang, sr, slot.id!);
      expect(res.status).toBe(404);
      expect((await platformBookings()).some((b) => b.orderNo === sr)).toBe(false);
    });

    it('answers 503 and writes nothing while the platform fails', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const [slot] = await freeSlots(DR);
      await fetch(`${sim}/fail?mode=500&times=1`, { method: 'POST' });
      const res = await book(tokens.li, sr, slot.id!);
      expect(res.status).toBe(503);
      expect(outcomeText(res.body)).toContain('医技预约平台暂时无法访问');
      expect((await fhirCall<Bundle>(tokens.li, `Appointment?based-on=ServiceRequest/${sr}`)).body.entry ?? []).toEqual([]);
    });

    it('lets other requests through while it waits for a slow platform', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const [slot] = await freeSlots(DR);
      await fetch(`${sim}/fail?mode=timeout&times=1`, { method: 'POST' });
      let settled = false;
      const waiting = book(tokens.li, sr, slot.id!).then((r) => { settled = true; return r; });
      // The booking request has reached the platform, which holds it unanswered.
      await eventually(async () => ((await (await fetch(`${sim}/`)).json()) as { failure: unknown }).failure === null);
      expect((await fhirCall<Patient>(tokens.li, `Patient/${patients.li}`)).status).toBe(200);
      expect(settled).toBe(false);
      expect((await waiting).status).toBe(503);
    });

    it('cancels a booking on the patient\'s request, on the platform and in the store, and the order can be booked again', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const [slot] = await freeSlots(DR);
      const booked = await book(tokens.li, sr, slot.id!);
      const bookingId = booked.body.identifier![0].value;
      const res = await cancel(tokens.li, sr);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'cancelled', cancelationReason: { coding: [{ code: 'pat' }], text: '临时有事' } });
      expect((await platformBookings()).find((b) => b.id === bookingId)).toMatchObject({ status: 'cancelled', cancelReason: '临时有事' });
      expect((await book(tokens.li, sr, slot.id!)).status).toBe(200);
    });

    it('cancels the Appointment with the platform\'s reason when the platform stops the slot (停诊)', async () => {
      const sr = await order(patients.li, DR, CHARGE_STATUS.paid);
      const slot = (await freeSlots(DR)).at(-1)!;
      const booked = await book(tokens.li, sr, slot.id!);
      expect(booked.status).toBe(200);
      await fetch(`${sim}/slots/${platformIdOf(slot)}/stop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: '设备检修停诊' }) });
      const seen = await eventually(async () => {
        const a = (await fhirCall<Appointment>(tokens.li, `Appointment/${booked.body.id}`)).body;
        return a.status === 'cancelled' && a;
      });
      expect(seen.cancelationReason).toMatchObject({ coding: [{ code: 'prov' }], text: expect.stringContaining('设备检修停诊') });
      expect((await fhirCall<Slot>(tokens.li, `Slot/${slot.id}`)).body.status).toBe('busy-unavailable');
      const another = await book(tokens.li, await order(patients.li, DR, CHARGE_STATUS.paid), slot.id!);
      expect(another.status).toBe(409);
      expect(outcomeText(another.body)).toContain('已停诊');
    });

    it('refuses a 停诊 notice without the platform\'s token', async () => {
      const res = await fetch(`${base}/channels/medtech-booking/notify`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' }, body: '{}' });
      expect(res.status).toBe(401);
    });
  });
});
