import { parseSearchRequest } from '@medplum/core';
import type { Bundle, ChargeItem, Invoice, MedicationRequest, Organization, Parameters, Patient, Task } from '@medplum/fhirtypes';
import { fenOf } from '../../fhir-resources/billing/money';
import { hisPeer, type HisPeer, type HisPeerOptions } from '../../simulators/his/his-peer';
import { startSimulatorHost, type SimulatorHost } from '../../simulators/host';
import { eventually } from '../support/engine-server';
import { startPaymentHospital, type PaymentHospital } from './payment-hospital';

/**
 * The whole loop with the real payment workflow: the simulated HIS pushes a priced 西药处方 to his-orders, the patient
 * pays it through $checkout and the simulated WeChat Pay, and the HIS books the 收费 (his-charges); a refund the
 * operator approves and WeChat Pay settles is booked there as 退费.
 */
const HIS_PATIENT = 'P000200533';

describe('the HIS books what a patient paid and was refunded through Lingshu', () => {
  let h: PaymentHospital;
  let his: HisPeer;
  let simulators: SimulatorHost;
  let sim: string;
  let patient: Patient;
  let patientToken: string;

  beforeAll(async () => {
    // The engine's port is known only once the hospital is configured; the HIS reads where Lingshu is per call.
    const hisOptions: HisPeerOptions = { port: 0, seed: false };
    his = hisPeer(hisOptions);
    simulators = await startSimulatorHost([his], { port: 0 });
    sim = `http://127.0.0.1:${simulators.port}/_sim`;
    h = await startPaymentHospital({
      db: 'sqlite', amqp: false,
      adjust: (hospital, ports) => {
        hisOptions.lingshu = { wsdl: `http://127.0.0.1:${ports.http}/channels/his-patients?wsdl`, ordersWsdl: `http://127.0.0.1:${ports.http}/channels/his-orders?wsdl` };
        const c = hospital.channels;
        return { ...hospital, channels: { ...c, hisPatients: { enabled: true }, hisOrders: { enabled: true }, hisCharges: { ...c.hisCharges, enabled: true, wsdl: `${his.url}?wsdl` } } };
      },
    });
    const post = (path: string, body: object) => fetch(`${sim}/his/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('patients', { id: HIS_PATIENT, name: '黄志强', idCard: '450103196203151235', gender: '1', birthDate: '19620315' })).status).toBe(201);
    expect((await post('prescriptions', { patientId: HIS_PATIENT })).status).toBe(201);
    patient = await eventually(async () => {
      const found = await h.store().search(parseSearchRequest('Patient', { identifier: `urn:oid:2.16.156.10011.2.5.1.4|${HIS_PATIENT}` }));
      return found.resources[0] as Patient | undefined;
    });
    patientToken = await h.token('patient', `Patient/${patient.id}`);
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

  const hisOrders = async () => (await (await fetch(`${sim}/his/orders?patientId=${HIS_PATIENT}`)).json()) as { name: string; chargeStatus: string }[];

  it('books the 收费 at the HIS once WeChat Pay has paid the prescription, for the amount paid', async () => {
    const drugs = await eventually(async () => {
      const page = await fhir<Bundle>(`MedicationRequest?subject=Patient/${patient.id}`);
      return page.body.entry?.length === 3 ? page.body.entry.map((e) => e.resource as MedicationRequest) : undefined;
    });
    const pharmacy = (await h.store().create<Organization>({ resourceType: 'Organization', name: '桃源院区门诊药房' })).resource;
    const checkout = await fhir<Parameters>('$checkout', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueReference: { reference: `Patient/${patient.id}` } },
        { name: 'item', valueReference: { reference: `MedicationRequest/${drugs[0].id}` } },
        { name: 'pharmacy', valueReference: { reference: `Organization/${pharmacy.id}` } },
        { name: 'channel', valueCode: 'wechatpay' },
        { name: 'clientKey', valueString: 'his-loop-1' },
        { name: 'openid', valueString: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
      ],
    });
    expect(checkout.status).toBe(200);
    const invoice = checkout.body.parameter?.find((p) => p.name === 'invoice')?.resource as Invoice;
    // The prescription is paid whole: one drug selected brings the other two.
    expect(fenOf(invoice.totalGross)).toBe(15250);
    const outTradeNo = checkout.body.parameter?.find((p) => p.name === 'payment')?.part?.find((p) => p.name === 'outTradeNo')?.valueString;
    await h.wechat.pay(outTradeNo!, 1);
    const booked = await eventually(() => his.received.find((r) => r.action === 'OutpatientCharge' && r.billing?.outTradeNo === outTradeNo));
    expect(booked).toMatchObject({ outcome: 'AA', billing: { patientId: HIS_PATIENT, amount: '152.50', channel: 'wechatpay' } });
    expect((await hisOrders()).map((o) => o.chargeStatus)).toEqual(['paid', 'paid', 'paid']);
  });

  it('books the 退费 at the HIS once the approved refund has succeeded at WeChat Pay', async () => {
    const invoice = (await fhir<Bundle>(`Invoice?subject=Patient/${patient.id}`)).body.entry![0].resource as Invoice;
    const items = await Promise.all(invoice.lineItem!.map(async (l) => (await fhir<ChargeItem>(l.chargeItemReference!.reference!)).body));
    const acarbose = items.find((c) => fenOf(c.priceOverride) === 9120)!;
    const requested = await fhir<Task>(`Invoice/${invoice.id}/$request-refund`, {
      resourceType: 'Parameters', parameter: [{ name: 'item', valueReference: { reference: `ChargeItem/${acarbose.id}` } }, { name: 'reason', valueString: '胃肠不适，医生停用' }],
    });
    expect(requested.status).toBe(200);
    const operator = await h.token('operator');
    const approved = await fhir('Task/$approve-refund', { resourceType: 'Parameters', parameter: [{ name: 'task', valueReference: { reference: `Task/${requested.body.id}` } }] }, operator);
    expect(approved.status).toBe(200);
    const [refund] = [...h.wechat.state.refunds.values()];
    await h.wechat.settleRefund(refund.outRefundNo, 'SUCCESS', 1);
    const booked = await eventually(() => his.received.find((r) => r.action === 'OutpatientRefund' && r.outcome === 'AA'));
    expect(booked.billing).toMatchObject({ amount: '91.20', outRefundNo: refund.outRefundNo });
    expect((await hisOrders()).filter((o) => o.chargeStatus === 'refunded').map((o) => o.name)).toEqual(['阿卡波糖片(拜唐苹) 50mg*30片']);
  });
});
