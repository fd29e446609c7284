import type { Bundle, ChargeItem, Invoice, MedicationRequest, PaymentNotice, Resource, Task } from '@medplum/fhirtypes';
import {
  OUT_REFUND_NO_SYSTEM, OUT_TRADE_NO_SYSTEM, PAYMENT_CHANNEL_EXTENSION, PRESCRIPTION_NO_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM, TRANSACTION_ID_SYSTEM,
} from '../../fhir-resources/billing/billing-vocabulary';
import { fenOf, money } from '../../fhir-resources/billing/money';
import type { ReceivedCall } from '../../simulators/his/his-peer';
import { hisPeer, HisPeer } from '../../simulators/his/his-peer';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { freePort } from '../support/engine-process';
import { eventually } from '../support/engine-server';
import { startHospitalEngine, type HospitalEngine } from '../support/hospital-engine';

/**
 * The HIS billing loop over the real transports: the simulated HIS pushes a priced 处方 and 申请单 to his-orders
 * (→ MedicationRequest / ServiceRequest + ChargeItem), the payment workflow's resources are written straight into the
 * store, and his-charges tells the HIS (互联互通 SOAP) what was paid and refunded.
 */
const HIS_PATIENT = 'P000200533';
const RECEIPT_SYSTEM = 'urn:oid:2.16.156.10011.2.5.1.96';

interface HisOrderView { id: string; name: string; chargeStatus: string; category: string }

for (const stack of [{ name: 'SQLite + in-process bus', db: 'sqlite' as const, amqp: false }, { name: 'PostgreSQL + RabbitMQ', db: 'postgres' as const, amqp: true }]) {
  describe(`HIS orders in and 门诊收费 / 门诊退费 out on ${stack.name}`, () => {
    let lingshu: HospitalEngine;
    let simulators: SimulatorHost;
    let his: HisPeer;
    let base: string;
    let sim: string;
    let patientId: string;
    let ordersWsdl: string;
    let prescription: Record<string, unknown>;

    const json = async <T>(url: string, init?: RequestInit): Promise<T> => (await (await fetch(url, init)).json()) as T;
    const search = async <T extends Resource>(query: string): Promise<T[]> => ((await json<Bundle>(`${base}/fhir/${query}`)).entry ?? []).map((e) => e.resource as T);
    const post = (url: string, body: unknown) => json<Record<string, unknown>>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const repo = () => lingshu.store();
    const received = (action: string) => his.received.filter((r) => r.action === action);
    const hisOrders = () => json<HisOrderView[]>(`${sim}/his/orders?patientId=${HIS_PATIENT}`);

    beforeAll(async () => {
      const port = await freePort();
      ordersWsdl = `http://127.0.0.1:${port}/channels/his-orders?wsdl`;
      his = hisPeer({ port: 0, seed: false, lingshu: { wsdl: `http://127.0.0.1:${port}/channels/his-patients?wsdl`, ordersWsdl } });
      simulators = await startSimulatorHost([his], { port: 0 });
      sim = `http://127.0.0.1:${simulators.port}/_sim`;
      lingshu = await startHospitalEngine({
        db: stack.db, amqp: stack.amqp, port, security: false,
        settings: {
          LINGSHU_PROFILE: 'production',
          LINGSHU_ENGINE__DEFAULT_QUEUE__MAX_ATTEMPTS: '3', LINGSHU_ENGINE__DEFAULT_QUEUE__INITIAL_DELAY_MS: '50', LINGSHU_ENGINE__DEFAULT_QUEUE__MAX_DELAY_MS: '200',
        },
        hospital: (defaults) => {
          const c = defaults.channels;
          return {
            ...defaults,
            channels: { ...c, hisPatients: { enabled: true }, hisOrders: { enabled: true }, hisCharges: { ...c.hisCharges, enabled: true, wsdl: `${his.url}?wsdl`, timeoutMs: 5000 } },
          };
        },
      });
      base = lingshu.base;
      const registered = await post(`${sim}/his/patients`, { id: HIS_PATIENT, name: '黄志强', idCard: '450103196203151235', gender: '1', birthDate: '19620315' });
      expect(String(registered.lingshuAnswer)).toContain('typeCode="AA"');
      patientId = (await eventually(async () => (await search(`Patient?identifier=${encodeURIComponent(`urn:oid:2.16.156.10011.2.5.1.4|${HIS_PATIENT}`)}`))[0])).id!;
    });

    afterAll(async () => {
      await simulators?.stop();
      await lingshu?.stop();
    });

    const chargeItemsOf = () => search<ChargeItem>(`ChargeItem?subject=Patient/${patientId}&_count=50`);

    it('stores a prescription the HIS pushes as MedicationRequests sharing its 处方号, each with its priced ChargeItem', async () => {
      const pushed = await post(`${sim}/his/prescriptions`, { patientId: HIS_PATIENT });
      prescription = pushed;
      expect(String(pushed.lingshuAnswer)).toContain('typeCode="AA"');
      const drugs = await eventually(async () => {
        const found = await search<MedicationRequest>(`MedicationRequest?subject=Patient/${patientId}`);
        return found.length === 3 && found;
      });
      expect(new Set(drugs.map((d) => d.groupIdentifier?.value))).toEqual(new Set([pushed.prescriptionNo]));
      expect(drugs[0].groupIdentifier?.system).toBe(PRESCRIPTION_NO_SYSTEM);
      const charges = await eventually(async () => {
        const found = await chargeItemsOf();
        return found.length === 3 && found;
      });
      expect(charges.map((c) => c.status)).toEqual(['billable', 'billable', 'billable']);
      expect(new Set(charges.map((c) => c.service?.[0].reference))).toEqual(new Set(drugs.map((d) => `MedicationRequest/${d.id}`)));
      expect(charges.reduce((sum, c) => sum + fenOf(c.priceOverride)!, 0)).toBe(15250);
    });

    it('changes nothing when the HIS sends the same prescription again', async () => {
      expect(await his.sendToLingshu('OrderInfoRegister', String(prescription.message), ordersWsdl)).toContain('typeCode="AA"');
      await eventually(async () => (await json<{ messages: unknown[] }>(`${base}/api/messages?channel=his-orders&status=sent`)).messages.length === 2);
      expect(await chargeItemsOf()).toHaveLength(3);
      expect(await search(`MedicationRequest?subject=Patient/${patientId}`)).toHaveLength(3);
    });

    it('tells the HIS about a payment as 门诊收费 with the paid amount, and writes its 收据号 onto the PaymentNotice', async () => {
      const items = await chargeItemsOf();
      const invoice = await billedInvoice(items, 'LS20261126102233000187');
      const notice = (await repo().create<PaymentNotice>(paymentNotice(invoice, 'LS20261126102233000187', 15250))).resource;
      const call = await eventually(() => received('OutpatientCharge').find((r) => r.billing?.outTradeNo === 'LS20261126102233000187'));
      expect(call).toMatchObject({ outcome: 'AA', billing: { patientId: HIS_PATIENT, amount: '152.50', channel: 'wechatpay', transactionId: '4200002871202611261234567890' } });
      expect(call.billing!.lines).toHaveLength(3);
      expect((await hisOrders()).filter((o) => o.category === 'drug').map((o) => o.chargeStatus)).toEqual(['paid', 'paid', 'paid']);
      const written = await eventually(async () => {
        const current = await repo().read<PaymentNotice>('PaymentNotice', notice.id!);
        return current.identifier?.find((i) => i.system === RECEIPT_SYSTEM);
      });
      expect(written.value).toMatch(/^SJ\d{13}$/);
    });

    it('tells the HIS about a completed refund as 门诊退费 for the lines the Task names, once', async () => {
      const [invoice] = await search<Invoice>(`Invoice?subject=Patient/${patientId}`);
      const refunded = (await chargeItemsOf()).find((c) => fenOf(c.priceOverride) === 9120)!;
      const task = (await repo().create<Task>({
        resourceType: 'Task', status: 'requested', intent: 'order',
        identifier: [{ system: OUT_REFUND_NO_SYSTEM, value: 'LSR20261126150102000031' }],
        code: { coding: [{ system: TASK_CODE_SYSTEM, code: TASK_CODE.refund }] },
        focus: { reference: `Invoice/${invoice.id}` }, for: { reference: `Patient/${patientId}` },
        input: [
          { type: { text: 'item' }, valueReference: { reference: `ChargeItem/${refunded.id}` } },
          { type: { text: 'reason' }, valueString: '患者胃肠不适，医生停用阿卡波糖' },
          { type: { text: 'amount' }, valueMoney: money(9120) },
        ],
      })).resource;
      expect(received('OutpatientRefund')).toHaveLength(0);
      await repo().update<Task>({ ...task, status: 'completed' });
      const call = await eventually(() => received('OutpatientRefund').find((r) => r.billing?.outRefundNo === 'LSR20261126150102000031'));
      expect(call).toMatchObject({ outcome: 'AA', billing: { amount: '91.20', outTradeNo: 'LS20261126102233000187' } });
      expect((await hisOrders()).filter((o) => o.chargeStatus === 'refunded').map((o) => o.name)).toEqual(['阿卡波糖片(拜唐苹) 50mg*30片']);
      // The 收据号 written onto the Task is a Task update too: filtered, not a second 退费.
      await eventually(async () => (await repo().read<Task>('Task', task.id!)).identifier?.some((i) => i.system === RECEIPT_SYSTEM));
      await eventually(async () => (await json<{ messages: { id: string }[] }>(`${base}/api/messages?channel=his-charges&status=filtered`)).messages.length >= 1);
      expect(received('OutpatientRefund')).toHaveLength(1);
    });

    it('retries a 收费 the HIS answers AE, then dead-letters it with the HIS reason', async () => {
      const pushed = await post(`${sim}/his/orders`, { patientId: HIS_PATIENT, category: 'exam', items: [{ code: '210300001', name: '胸部CT平扫', unitPrice: '180.00' }] });
      expect(String(pushed.lingshuAnswer)).toContain('typeCode="AA"');
      const ct = await eventually(async () => (await chargeItemsOf()).find((c) => c.code?.coding?.[0].code === '210300001'));
      // Lingshu's price has drifted from the HIS's: the HIS must refuse to book it.
      const drifted = (await repo().update<ChargeItem>({ ...ct, priceOverride: money(15000) })).resource;
      const invoice = await billedInvoice([drifted], 'LS20261126160000000002');
      await repo().create<PaymentNotice>(paymentNotice(invoice, 'LS20261126160000000002', 15000));
      const failed = await eventually(async () => {
        const list = await json<{ messages: { id: string }[] }>(`${base}/api/messages?channel=his-charges&status=error`);
        return list.messages[0] && json<{ errors: { error: string }[] }>(`${base}/api/messages/${list.messages[0].id}`);
      });
      expect(failed.errors).toHaveLength(3);
      for (const e of failed.errors) expect(e.error).toMatch(/answered AE: 医嘱 \S+ 金额不符: 应为 180\.00 元，收到 150\.00 元$/);
      const attempts = received('OutpatientCharge').filter((r: ReceivedCall) => r.billing?.outTradeNo === 'LS20261126160000000002');
      expect(attempts.map((r) => r.outcome)).toEqual(['AE', 'AE', 'AE']);
    });

    async function billedInvoice(items: ChargeItem[], outTradeNo: string): Promise<Invoice> {
      const total = items.reduce((sum, c) => sum + fenOf(c.priceOverride)!, 0);
      const invoice = (await repo().create<Invoice>({
        resourceType: 'Invoice', status: 'balanced', subject: { reference: `Patient/${patientId}` },
        identifier: [{ system: OUT_TRADE_NO_SYSTEM, value: outTradeNo }],
        extension: [{ url: PAYMENT_CHANNEL_EXTENSION, valueCode: 'wechatpay' }],
        lineItem: items.map((c) => ({ chargeItemReference: { reference: `ChargeItem/${c.id}` }, priceComponent: [{ type: 'base', amount: c.priceOverride }] })),
        totalNet: money(total), totalGross: money(total),
      })).resource;
      for (const item of items) await repo().update<ChargeItem>({ ...(await repo().read<ChargeItem>('ChargeItem', item.id!)), status: 'billed' });
      return invoice;
    }
  });
}

function paymentNotice(invoice: Invoice, outTradeNo: string, fen: number): PaymentNotice {
  const transaction = { system: TRANSACTION_ID_SYSTEM, value: '4200002871202611261234567890' };
  return {
    resourceType: 'PaymentNotice', status: 'active',
    identifier: [{ system: OUT_TRADE_NO_SYSTEM, value: outTradeNo }, transaction],
    request: { reference: `Invoice/${invoice.id}` }, created: '2026-11-26T10:23:05+08:00',
    payment: { identifier: transaction }, recipient: { display: '桃源院区' }, amount: money(fen),
    paymentStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/paymentstatus', code: 'paid' }] },
  };
}
