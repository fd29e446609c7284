import { parseSearchRequest } from '@medplum/core';
import type { ChargeItem, Invoice, MedicationDispense, MedicationRequest, Organization, Parameters, Patient, Task } from '@medplum/fhirtypes';
import { demoHospital } from '../../channels/demo-hospital';
import {
  CHARGE_CODE_SYSTEM, CHARGE_STATUS, PHARMACY_CODE_SYSTEM, PICKUP_CODE_SYSTEM, PRESCRIPTION_NO_SYSTEM, TASK_BUSINESS_STATUS_SYSTEM, TASK_CODE_SYSTEM, UNIT_PRICE_EXTENSION,
} from '../../fhir-resources/billing/billing-vocabulary';
import { money } from '../../fhir-resources/billing/money';
import { startSimulatorHost, type SimulatorHost } from '../../simulators/host';
import { pharmacyPeer, type PharmacyPeer, type PharmacyPeerOptions } from '../../simulators/pharmacy/pharmacy-peer';
import { prescriptionPlatformPeer, type PrescriptionPlatformPeer } from '../../simulators/prescription-platform/prescription-platform-peer';
import { eventually } from '../support/engine-server';
import { startPaymentHospital, type PaymentHospital } from './payment-hospital';

/**
 * Circulation with the payment workflow in front of it: a patient pays a prescription through $checkout and the
 * simulated WeChat Pay, choosing a pharmacy from the Organizations the circulation channel lists; the Task the payment
 * makes reaches the simulated pharmacy with the Invoice's pickup code, and the pharmacy's 核销 comes back as
 * MedicationDispenses. A refund the operator approves calls the prescription back.
 */
const APP_ID = 'lingshu-demo';
const KEY = 'circulation-after-payment-key';

describe('circulating a prescription once it is paid through WeChat Pay', () => {
  let h: PaymentHospital;
  let pharmacy: PharmacyPeer;
  let platform: PrescriptionPlatformPeer;
  let simulators: SimulatorHost;
  let sim: string;
  let patientToken: string;
  let operatorToken: string;
  let patient: Patient;
  let seq = 0;

  beforeAll(async () => {
    platform = prescriptionPlatformPeer({ port: 0, fixmedinsCodes: ['H33010600001'] });
    // The engine's port is known only once the hospital is configured; the pharmacy reads its callback URL per call.
    const pharmacyOptions: PharmacyPeerOptions = { port: 0, apps: { [APP_ID]: KEY } };
    pharmacy = pharmacyPeer(pharmacyOptions);
    simulators = await startSimulatorHost([platform, pharmacy], { port: 0 });
    sim = `http://127.0.0.1:${simulators.port}/_sim`;
    h = await startPaymentHospital({
      db: 'sqlite', amqp: false,
      adjust: (hospital, ports) => {
        pharmacyOptions.callbackUrl = `http://127.0.0.1:${ports.http}/channels/pharmacy-callback`;
        const demo = demoHospital(hospital, {
          LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT: new URL(platform.url).port, LINGSHU_SIM_PHARMACY_PORT: new URL(pharmacy.url).port,
          LINGSHU_SIM_PHARMACY_APP_ID: APP_ID, LINGSHU_SIM_PHARMACY_SECRET: KEY,
        }).channels.prescriptionCirculation;
        // Expiry looks every second, so that a prescription written four days ago expires as soon as it is circulated.
        return { ...hospital, channels: { ...hospital.channels, prescriptionCirculation: { ...demo, expiryCron: '* * * * * *' } } };
      },
    });
    patient = (await h.store().create<Patient>({ resourceType: 'Patient', name: [{ text: '王芳' }], gender: 'female', telecom: [{ system: 'phone', value: '13900139000' }] })).resource;
    patientToken = await h.token('patient', `Patient/${patient.id}`);
    operatorToken = await h.token('operator');
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await simulators?.stop();
  });

  async function fhir<T>(path: string, body?: object, token = patientToken): Promise<{ status: number; body: T }> {
    const res = await fetch(`${h.base}/fhir/${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** A prescription of two drugs with their charges, as the HIS orders channel writes them. */
  async function prescription(authoredOn = new Date().toISOString()): Promise<{ rxNo: string; drugs: MedicationRequest[] }> {
    const rxNo = `CFPAY${++seq}${Date.now() % 100000}`;
    const subject = { reference: `Patient/${patient.id}` };
    const drugs: MedicationRequest[] = [];
    for (const [code, text, fen] of [['XJ01CAA040A001010100483', '阿莫西林胶囊', 1250], ['XN02BAA0020101010500', '布洛芬缓释胶囊', 2880]] as const) {
      const drug = (await h.store().create<MedicationRequest>({
        resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject, authoredOn,
        groupIdentifier: { system: PRESCRIPTION_NO_SYSTEM, value: rxNo }, medicationCodeableConcept: { coding: [{ code }], text },
        dosageInstruction: [{ text: '口服，一日三次' }], dispenseRequest: { quantity: { value: 1, unit: '盒' } },
      })).resource;
      drugs.push(drug);
      await h.store().create<ChargeItem>({
        resourceType: 'ChargeItem', status: CHARGE_STATUS.unpaid, subject, service: [{ reference: `MedicationRequest/${drug.id}` }],
        code: { coding: [{ system: CHARGE_CODE_SYSTEM, code }], text }, quantity: { value: 1 },
        extension: [{ url: UNIT_PRICE_EXTENSION, valueMoney: money(fen) }], priceOverride: money(fen), occurrenceDateTime: new Date().toISOString(),
      });
    }
    return { rxNo, drugs };
  }

  /** The patient picks the pharmacy from the list and pays; resolves with the Invoice once paid. */
  async function payAt(pharmacyCode: string, drugs: MedicationRequest[]): Promise<Invoice> {
    const listed = await fhir<{ entry?: { resource: Organization }[] }>('Organization?type=http://lingshu.health/CodeSystem/organization-type|pharmacy');
    const chosen = listed.body.entry!.map((e) => e.resource).find((o) => o.identifier?.some((i) => i.system === PHARMACY_CODE_SYSTEM && i.value === pharmacyCode))!;
    const checkout = await fhir<Parameters>('$checkout', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueReference: { reference: `Patient/${patient.id}` } },
        ...drugs.map((d) => ({ name: 'item', valueReference: { reference: `MedicationRequest/${d.id}` } })),
        { name: 'pharmacy', valueReference: { reference: `Organization/${chosen.id}` } },
        { name: 'channel', valueCode: 'wechatpay' },
        { name: 'clientKey', valueString: `rx-${seq}` },
        { name: 'openid', valueString: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      ],
    });
    expect(checkout.status).toBe(200);
    const invoice = checkout.body.parameter?.find((p) => p.name === 'invoice')?.resource as Invoice;
    const outTradeNo = checkout.body.parameter?.find((p) => p.name === 'payment')?.part?.find((p) => p.name === 'outTradeNo')?.valueString;
    await h.wechat.pay(outTradeNo!, 1);
    return eventually(async () => {
      const paid = await h.store().read<Invoice>('Invoice', invoice.id!);
      return paid.status === 'balanced' ? paid : undefined;
    });
  }

  const circulationTask = (invoice: Invoice) => eventually(async () => {
    const found = await h.store().search(parseSearchRequest('Task', { focus: `Invoice/${invoice.id}`, code: `${TASK_CODE_SYSTEM}|circulation` }));
    return found.resources[0] as Task | undefined;
  });
  const reaches = (id: string, status: string, business: string) => eventually(async () => {
    const t = await h.store().read<Task>('Task', id);
    return t.status === status && t.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS_SYSTEM)?.code === business ? t : undefined;
  }, 30_000);

  it('sends the paid prescription to the chosen pharmacy with the pickup code, and its 核销 completes the Task with MedicationDispenses', async () => {
    const { rxNo, drugs } = await prescription();
    const invoice = await payAt('XH-DYF', drugs);
    const pickupCode = invoice.identifier?.find((i) => i.system === PICKUP_CODE_SYSTEM)?.value;
    const task = await circulationTask(invoice);
    await reaches(task.id!, 'in-progress', 'circulated');
    expect(pharmacy.orders.get(rxNo)).toMatchObject({ status: 'received', pickupCode, patient: { name: '王芳' } });

    const counter = (path: string, body: object = {}) => fetch(`${sim}/pharmacy/prescriptions/${rxNo}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await counter('accept')).status).toBe(200);
    expect((await counter('pickup', { pickupCode })).status).toBe(200);
    await reaches(task.id!, 'completed', 'picked-up');
    const dispenses = await fhir<{ entry?: { resource: MedicationDispense }[] }>(`MedicationDispense?patient=Patient/${patient.id}`);
    expect(dispenses.body.entry?.map((e) => e.resource.authorizingPrescription?.[0].reference).sort()).toEqual(drugs.map((d) => `MedicationRequest/${d.id}`).sort());
  });

  it('calls the prescription back at the platform when the operator approves its refund', async () => {
    const { rxNo, drugs } = await prescription();
    const invoice = await payAt('TY-MZYF', drugs);
    const task = await circulationTask(invoice);
    await reaches(task.id!, 'in-progress', 'circulated');
    const asked = await fhir<Task>(`Invoice/${invoice.id}/$request-refund`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: '不需要了' }] });
    expect(asked.status).toBe(200);
    const approved = await fhir(`Task/$approve-refund`, { resourceType: 'Parameters', parameter: [{ name: 'task', valueReference: { reference: `Task/${asked.body.id}` } }] }, operatorToken);
    expect(approved.status).toBe(200);
    await reaches(task.id!, 'cancelled', 'cancelled');
    expect([...platform.state.rx.values()].find((r) => r.hospRxno === rxNo)?.status).toBe('revoked');
  });

  it('expires a paid prescription not picked up within its validity, cancels it at the pharmacy and asks for its refund, which waits for the operator', async () => {
    // Written four days ago: past the 3 days the pharmacy keeps it (pharmacyValidDays).
    const { rxNo, drugs } = await prescription(new Date(Date.now() - 4 * 86_400_000).toISOString());
    const invoice = await payAt('XH-DYF', drugs);
    const task = await circulationTask(invoice);
    await reaches(task.id!, 'cancelled', 'expired');
    await eventually(async () => (pharmacy.orders.get(rxNo)?.status === 'cancelled' ? true : undefined), 30_000);

    const refund = await eventually(async () => {
      const found = await h.store().search(parseSearchRequest('Task', { focus: `Invoice/${invoice.id}`, code: `${TASK_CODE_SYSTEM}|refund` }));
      return found.resources[0] as Task | undefined;
    }, 30_000);
    expect(refund.status).toBe('requested');
    expect(refund.businessStatus?.coding?.[0].code).toBe('awaiting-approval');
    const items = refund.input?.filter((i) => i.valueReference).map((i) => i.valueReference!.reference);
    expect(items).toEqual(invoice.lineItem!.map((l) => l.chargeItemReference!.reference!));
    expect(refund.input?.find((i) => i.valueString)?.valueString).toBe('处方超过有效期未取药，系统自动申请退费');

    const approved = await fhir(`Task/$approve-refund`, { resourceType: 'Parameters', parameter: [{ name: 'task', valueReference: { reference: `Task/${refund.id}` } }] }, operatorToken);
    expect(approved.status).toBe(200);
    const outRefundNo = refund.identifier![0].value!;
    expect(h.wechat.state.refunds.has(outRefundNo)).toBe(true);
    await h.wechat.settleRefund(outRefundNo, 'SUCCESS', 1);
    const refunded = await eventually(async () => {
      const t = await h.store().read<Task>('Task', refund.id!);
      return t.status === 'completed' ? t : undefined;
    }, 30_000);
    expect(refunded.status).toBe('completed');
    // Only one refund: the expiry's later runs find nothing left to ask for.
    const all = await h.store().search(parseSearchRequest('Task', { focus: `Invoice/${invoice.id}`, code: `${TASK_CODE_SYSTEM}|refund` }));
    expect(all.resources).toHaveLength(1);
  });
});
