import type { Appointment, ChargeItem, OperationOutcome, Parameters, Patient, ServiceRequest, Slot } from '@medplum/fhirtypes';
import { CHARGE_CODE_SYSTEM, CHARGE_STATUS, UNIT_PRICE_EXTENSION } from '../../fhir-resources/billing/billing-vocabulary';
import { money } from '../../fhir-resources/billing/money';
import { medtechBookingPeer, type MedtechBookingPeer } from '../../simulators/medtech-booking/medtech-booking-peer';
import { eventually } from '../support/engine-server';
import { startPaymentHospital, type PaymentHospital } from './payment-hospital';

/**
 * Booking after payment with the payment workflow in front of it: a patient's exam order is refused by $book until
 * it is paid through $checkout and the simulated WeChat Pay, and booked on the simulated 医技预约 platform after.
 */
const TOKEN = 'medtech-after-payment-token';
const DR = '210102015';

describe('booking an exam order once it is paid through WeChat Pay', () => {
  let h: PaymentHospital;
  let medtech: MedtechBookingPeer;
  let patientToken: string;
  let patient: Patient;
  let exam: ServiceRequest;

  beforeAll(async () => {
    medtech = medtechBookingPeer({ port: 0, token: TOKEN, seedDays: 1 });
    await medtech.start();
    h = await startPaymentHospital({
      db: 'sqlite', amqp: false,
      adjust: (hospital) => ({
        ...hospital,
        channels: {
          ...hospital.channels,
          medtechBooking: { enabled: true, url: medtech.url, token: TOKEN, timeoutMs: 2000 },
          medtechSlots: { enabled: true, cron: '* * * * * *' },
        },
      }),
    });
    const repo = h.store();
    patient = (await repo.create<Patient>({ resourceType: 'Patient', name: [{ text: '李梅' }], gender: 'female' })).resource;
    const subject = { reference: `Patient/${patient.id}` };
    const code = { coding: [{ system: CHARGE_CODE_SYSTEM, code: DR, display: '胸部X线摄影(DR)' }], text: '胸部X线摄影(DR)' };
    exam = (await repo.create<ServiceRequest>({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject, code, category: [{ text: '检查' }] })).resource;
    await repo.create<ChargeItem>({
      resourceType: 'ChargeItem', status: CHARGE_STATUS.unpaid, subject, service: [{ reference: `ServiceRequest/${exam.id}` }], code, quantity: { value: 1 },
      extension: [{ url: UNIT_PRICE_EXTENSION, valueMoney: money(7000) }], priceOverride: money(7000), occurrenceDateTime: new Date().toISOString(),
    });
    patientToken = await h.token('patient', `Patient/${patient.id}`);
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await medtech?.stop();
  });

  async function fhir<T>(path: string, body?: object): Promise<{ status: number; body: T }> {
    const res = await fetch(`${h.base}/fhir/${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${patientToken}`, 'content-type': 'application/fhir+json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  const book = (slot: Slot) => fhir<Appointment | OperationOutcome>(`ServiceRequest/${exam.id}/$book`, {
    resourceType: 'Parameters', parameter: [{ name: 'slot', valueReference: { reference: `Slot/${slot.id}` } }],
  });

  it('refuses the order before payment and books it after', async () => {
    const slot = await eventually(async () => {
      const found = await fhir<{ entry?: { resource: Slot }[] }>(`Slot?service-type=${encodeURIComponent(`${CHARGE_CODE_SYSTEM}|${DR}`)}&status=free`);
      return found.body.entry?.[0]?.resource;
    });

    const before = await book(slot);
    expect(before.status).toBe(409);
    expect((before.body as OperationOutcome).issue?.[0].diagnostics).toContain('尚未缴费');

    const checkout = await fhir<Parameters>('$checkout', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueReference: { reference: `Patient/${patient.id}` } },
        { name: 'item', valueReference: { reference: `ServiceRequest/${exam.id}` } },
        { name: 'channel', valueCode: 'wechatpay' },
        { name: 'clientKey', valueString: 'exam-1' },
        { name: 'openid', valueString: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      ],
    });
    expect(checkout.status).toBe(200);
    const outTradeNo = checkout.body.parameter?.find((p) => p.name === 'payment')?.part?.find((p) => p.name === 'outTradeNo')?.valueString;
    await h.wechat.pay(outTradeNo!, 1);
    await eventually(async () => (await fhir<{ entry?: { resource: ChargeItem }[] }>(`ChargeItem?service=ServiceRequest/${exam.id}`)).body.entry?.every((e) => e.resource.status === CHARGE_STATUS.paid));

    const after = await book(slot);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ resourceType: 'Appointment', status: 'booked', basedOn: [{ reference: `ServiceRequest/${exam.id}` }] });
    expect([...medtech.state.bookings.values()].filter((b) => b.orderNo === exam.id).map((b) => b.status)).toEqual(['booked']);
  });
});
