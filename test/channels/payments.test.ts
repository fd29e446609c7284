import type { Bundle, ChargeItem, DocumentReference, Invoice, MedicationDispense, OperationOutcome, Parameters, PaymentNotice, Task } from '@medplum/fhirtypes';
import { INVOICE_STATUS, OUT_TRADE_NO_SYSTEM, PICKUP_CODE_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { eventually } from '../support/engine-server';
import { seedBills, startPaymentHospital, type PaymentHospital } from './payment-hospital';

/**
 * Online payment end to end: a patient's $checkout through the FHIR API, the simulated WeChat Pay / Alipay paying
 * and notifying Lingshu over HTTP with real signatures, and what the store holds afterwards.
 */
for (const stack of [{ name: 'SQLite + in-process bus', db: 'sqlite' as const, amqp: false }, { name: 'PostgreSQL + RabbitMQ', db: 'postgres' as const, amqp: true }]) {
  describe(`online payment on ${stack.name}`, () => {
    let h: PaymentHospital;
    let bills: Awaited<ReturnType<typeof seedBills>>;
    let other: Awaited<ReturnType<typeof seedBills>>;
    let patientToken: string;
    let otherToken: string;

    beforeAll(async () => {
      h = await startPaymentHospital({ db: stack.db, amqp: stack.amqp, queryAfterSeconds: 3 });
      bills = await seedBills(h.store(), '李梅', 'RX20261126001');
      other = await seedBills(h.store(), '张建国', 'RX20261126002');
      patientToken = await h.token('patient', `Patient/${bills.patient.id}`);
      otherToken = await h.token('patient', `Patient/${other.patient.id}`);
    }, 60_000);
    afterAll(() => h?.stop());

    const fhir = async <T>(token: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> => {
      const res = await fetch(`${h.base}/fhir/${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
        ...(init.body ? { body: JSON.stringify(init.body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as T };
    };
    const checkout = (token: string, patient: string, items: string[], channel: string, clientKey: string, pharmacy?: string) => fhir<Parameters & { issue?: OperationOutcome['issue'] }>(token, '$checkout', {
      method: 'POST',
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient', valueReference: { reference: patient } },
          ...items.map((reference) => ({ name: 'item', valueReference: { reference } })),
          ...(pharmacy ? [{ name: 'pharmacy', valueReference: { reference: pharmacy } }] : []),
          { name: 'channel', valueCode: channel },
          { name: 'clientKey', valueString: clientKey },
          { name: 'openid', valueString: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
        ],
      },
    });
    const invoiceOf = (p: Parameters) => p.parameter?.find((x) => x.name === 'invoice')?.resource as Invoice;
    const paymentPart = (p: Parameters, name: string) => p.parameter?.find((x) => x.name === 'payment')?.part?.find((x) => x.name === name);
    const read = async <T>(ref: string) => (await h.store().read(ref.split('/')[0] as 'Invoice', ref.split('/')[1])) as T;
    const search = async (type: string, query: Record<string, string>) => (await h.store().search({ resourceType: type as 'Invoice', filters: Object.entries(query).map(([code, value]) => ({ code, operator: 'eq' as never, value })) })).resources;
    const paid = (invoiceId: string) => eventually(async () => (await read<Invoice>(`Invoice/${invoiceId}`)).status === INVOICE_STATUS.paid, 20_000);

    it('pays prescriptions and an exam together: one notification sent 5 times at once makes one payment', async () => {
      const { status, body } = await checkout(patientToken, `Patient/${bills.patient.id}`, [`MedicationRequest/${bills.drugs[0].id}`, `ServiceRequest/${bills.exam.id}`], 'wechatpay', 'merged-1', `Organization/${bills.pharmacy.id}`);
      expect(status).toBe(200);
      const invoice = invoiceOf(body);
      // Choosing one drug brings the whole prescription (处方号): 12.50 + 28.80 + 70.00.
      expect(invoice.lineItem).toHaveLength(3);
      expect(invoice.totalNet?.value).toBe(111.3);
      expect(paymentPart(body, 'amount')?.valueInteger).toBe(11130);
      expect(paymentPart(body, 'paySign')?.valueString).toBeTruthy();
      const outTradeNo = paymentPart(body, 'outTradeNo')!.valueString!;

      const paidAtGateway = await h.wechat.pay(outTradeNo, 5);
      expect(paidAtGateway!.deliveries.map((d) => d.status)).toEqual([200, 200, 200, 200, 200].map(() => expect.any(Number)));
      expect(paidAtGateway!.deliveries.every((d) => d.status! >= 200 && d.status! < 300)).toBe(true);
      await paid(invoice.id!);

      expect(await search('PaymentNotice', { identifier: `${OUT_TRADE_NO_SYSTEM}|${outTradeNo}` })).toHaveLength(1);
      for (const item of bills.items) expect((await read<ChargeItem>(`ChargeItem/${item.id}`)).status).toBe('billed');
      const vouchers = (await search('DocumentReference', { subject: `Patient/${bills.patient.id}` })) as DocumentReference[];
      expect(vouchers).toHaveLength(1);
      const tasks = (await search('Task', { focus: `Invoice/${invoice.id}` })) as Task[];
      expect(tasks).toHaveLength(1);
      expect(tasks[0].businessStatus?.coding?.[0].code).toBe('pending-review');
      expect(tasks[0].basedOn).toHaveLength(2);
    });

    it('answers a retried checkout with the same Invoice and refuses to pay what is already paid', async () => {
      const again = await checkout(patientToken, `Patient/${bills.patient.id}`, [`ServiceRequest/${bills.exam.id}`], 'wechatpay', 'merged-1');
      expect(again.status).toBe(200);
      expect(invoiceOf(again.body).status).toBe(INVOICE_STATUS.paid);
      const twice = await checkout(patientToken, `Patient/${bills.patient.id}`, [`ServiceRequest/${bills.exam.id}`], 'wechatpay', 'merged-2');
      expect(twice.status).toBe(409);
      expect(twice.body.issue?.[0].diagnostics).toContain('已缴费');
    });

    it("refuses another patient's bills with 403", async () => {
      const foreignItem = await checkout(otherToken, `Patient/${other.patient.id}`, [`ServiceRequest/${bills.exam.id}`], 'wechatpay', 'x-1');
      expect(foreignItem.status).toBe(403);
      const foreignPatient = await checkout(otherToken, `Patient/${bills.patient.id}`, [`ServiceRequest/${bills.exam.id}`], 'wechatpay', 'x-2');
      expect(foreignPatient.status).toBe(403);
    });

    it('pays split: the exam by Alipay and the prescription by WeChat Pay, each its own Invoice', async () => {
      const exam = await checkout(otherToken, `Patient/${other.patient.id}`, [`ServiceRequest/${other.exam.id}`], 'alipay', 'split-exam');
      const rx = await checkout(otherToken, `Patient/${other.patient.id}`, [`MedicationRequest/${other.drugs[1].id}`], 'wechatpay', 'split-rx', `Organization/${other.pharmacy.id}`);
      expect([exam.status, rx.status]).toEqual([200, 200]);
      expect(invoiceOf(exam.body).totalNet?.value).toBe(70);
      expect(invoiceOf(rx.body).totalNet?.value).toBe(41.3);
      await h.alipay.pay(paymentPart(exam.body, 'outTradeNo')!.valueString!, 1);
      await h.wechat.pay(paymentPart(rx.body, 'outTradeNo')!.valueString!, 1);
      await paid(invoiceOf(exam.body).id!);
      await paid(invoiceOf(rx.body).id!);
      // Only the prescription goes to circulation.
      expect(await search('Task', { focus: `Invoice/${invoiceOf(exam.body).id}` })).toHaveLength(0);
      expect(await search('Task', { focus: `Invoice/${invoiceOf(rx.body).id}` })).toHaveLength(1);
    });

    it('redeems a pickup code once at the pharmacy window', async () => {
      const [invoice] = (await search('Invoice', { subject: `Patient/${bills.patient.id}`, status: 'balanced' })) as Invoice[];
      const code = invoice.identifier!.find((i) => i.system === PICKUP_CODE_SYSTEM)!.value!;
      const operator = await h.token('operator');
      const redeem = () => fhir<MedicationDispense & { issue?: OperationOutcome['issue'] }>(operator, 'MedicationDispense/$redeem', { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'pickupCode', valueString: code }] } });
      const first = await redeem();
      expect(first.body.issue).toBeUndefined();
      expect(first.status).toBe(200);
      expect(first.body.authorizingPrescription).toHaveLength(2);
      const second = await redeem();
      expect(second.status).toBe(409);
      const byPatient = await fhir<OperationOutcome>(patientToken, 'MedicationDispense/$redeem', { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'pickupCode', valueString: code }] } });
      expect(byPatient.status).toBe(403);
    });

    describe('notifications that cannot be trusted', () => {
      let fresh: Awaited<ReturnType<typeof seedBills>>;
      beforeAll(async () => { fresh = await seedBills(h.store(), '王小明', 'RX20261126003'); });

      it.each(['signature', 'amount', 'unknown-order'] as const)('refuses a notification with a bad %s with a retryable status and changes nothing', async (tamper) => {
        const token = await h.token('patient', `Patient/${fresh.patient.id}`);
        const { body } = await checkout(token, `Patient/${fresh.patient.id}`, [`ServiceRequest/${fresh.exam.id}`], 'wechatpay', `tamper-${tamper}`);
        const invoice = invoiceOf(body);
        const outTradeNo = paymentPart(body, 'outTradeNo')!.valueString!;
        // Paid at the gateway only in the last case, so that the active query cannot complete it during the check.
        const delivered = await h.wechat.pay(outTradeNo, 1, tamper);
        expect(delivered!.deliveries[0].status).toBeGreaterThanOrEqual(400);
        expect((await read<Invoice>(`Invoice/${invoice.id}`)).status).toBe(INVOICE_STATUS.awaitingPayment);
        expect(await search('PaymentNotice', { identifier: `${OUT_TRADE_NO_SYSTEM}|${outTradeNo}` })).toHaveLength(0);
        // The gateway did take the money: the active query finds that out.
        await paid(invoice.id!);
        // Release the exam for the next case.
        await h.store().update({ ...(await read<ChargeItem>(`ChargeItem/${fresh.items[2].id}`)), status: 'billable' });
      });
    });

    it('completes a payment whose notification was lost by asking the gateway', async () => {
      const lost = await seedBills(h.store(), '赵敏', 'RX20261126004');
      const token = await h.token('patient', `Patient/${lost.patient.id}`);
      const { body } = await checkout(token, `Patient/${lost.patient.id}`, [`ServiceRequest/${lost.exam.id}`], 'alipay', 'lost-1');
      await h.alipay.pay(paymentPart(body, 'outTradeNo')!.valueString!, 0);
      await paid(invoiceOf(body).id!);
      const notices = (await search('PaymentNotice', { identifier: `${OUT_TRADE_NO_SYSTEM}|${paymentPart(body, 'outTradeNo')!.valueString}` })) as PaymentNotice[];
      expect(notices).toHaveLength(1);
      const messages = (await (await fetch(`${h.base}/api/messages?channel=payment-query`)).json()) as { messages: unknown[] };
      expect(messages.messages.length).toBeGreaterThan(0);
    });

    it('refunds one paid item end to end: request, approval, the gateway refund and its notification through /channels/wechatpay/notify', async () => {
      const rf = await seedBills(h.store(), '周芳', 'RX20261126006');
      const token = await h.token('patient', `Patient/${rf.patient.id}`);
      const { body } = await checkout(token, `Patient/${rf.patient.id}`, [`MedicationRequest/${rf.drugs[0].id}`, `ServiceRequest/${rf.exam.id}`], 'wechatpay', 'refund-1', `Organization/${rf.pharmacy.id}`);
      const invoice = invoiceOf(body);
      await h.wechat.pay(paymentPart(body, 'outTradeNo')!.valueString!, 1);
      await paid(invoice.id!);
      const requested = await fhir<Task & { issue?: OperationOutcome['issue'] }>(token, `Invoice/${invoice.id}/$request-refund`, {
        method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'item', valueReference: { reference: `ChargeItem/${rf.items[2].id}` } }, { name: 'reason', valueString: '检查已取消' }] },
      });
      expect(requested.body.issue).toBeUndefined();
      const task = requested.body;
      const operator = await h.token('operator');
      const approve = () => fhir<Parameters>(operator, 'Task/$approve-refund', { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'task', valueReference: { reference: `Task/${task.id}` } }] } });
      expect((await approve()).status).toBe(200);
      expect((await approve()).status).toBe(200);
      const refunds = [...h.wechat.state.refunds.values()];
      expect(refunds).toHaveLength(1);
      expect(refunds[0].refund).toBe(7000);
      const settled = await h.wechat.settleRefund(refunds[0].outRefundNo, 'SUCCESS', 2);
      expect(settled!.deliveries.every((d) => d.status! < 300)).toBe(true);
      const done = await eventually(async () => {
        const t = await read<Task>(`Task/${task.id}`);
        return t.status === 'completed' ? t : undefined;
      });
      expect(done.businessStatus?.coding?.[0].code).toBe('succeeded');
      expect((await read<ChargeItem>(`ChargeItem/${rf.items[2].id}`)).status).toBe('not-billable');
      expect((await read<ChargeItem>(`ChargeItem/${rf.items[0].id}`)).status).toBe('billed');
    });

    it('sends a prescription paid at the pharmacy there at once and settles it when the pharmacy hands it over', async () => {
      const ph = await seedBills(h.store(), '吴刚', 'RX20261126007');
      const token = await h.token('patient', `Patient/${ph.patient.id}`);
      const { status, body } = await checkout(token, `Patient/${ph.patient.id}`, [`MedicationRequest/${ph.drugs[0].id}`], 'pharmacy', 'pharmacy-1', `Organization/${ph.pharmacy.id}`);
      expect(status).toBe(200);
      const invoice = invoiceOf(body);
      expect(invoice.status).toBe(INVOICE_STATUS.awaitingPayment);
      expect(invoice.identifier?.some((i) => i.system === PICKUP_CODE_SYSTEM)).toBe(true);
      const [task] = (await search('Task', { focus: `Invoice/${invoice.id}` })) as Task[];
      expect(task.status).toBe('requested');
      // The pharmacy's 核销 (the circulation channel writes this when its callback arrives).
      await h.store().update({ ...task, status: 'completed', lastModified: new Date().toISOString() });
      await paid(invoice.id!);
      const notices = (await search('PaymentNotice', { identifier: `${OUT_TRADE_NO_SYSTEM}|${paymentPart(body, 'outTradeNo')!.valueString}` })) as PaymentNotice[];
      expect(notices).toHaveLength(1);
      expect((await search('Task', { focus: `Invoice/${invoice.id}` }))).toHaveLength(1);
    });

    it('answers 503 when the payment channel fails and leaves the items free to pay again', async () => {
      const down = await seedBills(h.store(), '钱进', 'RX20261126008');
      const token = await h.token('patient', `Patient/${down.patient.id}`);
      h.wechat.fail('500', 1);
      const failed = await checkout(token, `Patient/${down.patient.id}`, [`ServiceRequest/${down.exam.id}`], 'wechatpay', 'down-1');
      expect(failed.status).toBe(503);
      expect((await read<ChargeItem>(`ChargeItem/${down.items[2].id}`)).extension ?? []).toEqual([expect.objectContaining({ url: expect.stringContaining('unit-price') })]);
      const retried = await checkout(token, `Patient/${down.patient.id}`, [`ServiceRequest/${down.exam.id}`], 'wechatpay', 'down-2');
      expect(retried.status).toBe(200);
    });

    it('replaces an unpaid checkout when the patient switches channel, closing the first order', async () => {
      const sw = await seedBills(h.store(), '孙丽', 'RX20261126005');
      const token = await h.token('patient', `Patient/${sw.patient.id}`);
      const first = await checkout(token, `Patient/${sw.patient.id}`, [`ServiceRequest/${sw.exam.id}`], 'wechatpay', 'switch-1');
      const second = await checkout(token, `Patient/${sw.patient.id}`, [`ServiceRequest/${sw.exam.id}`], 'alipay', 'switch-2');
      expect(second.status).toBe(200);
      expect((await read<Invoice>(`Invoice/${invoiceOf(first.body).id}`)).status).toBe(INVOICE_STATUS.cancelled);
      expect(h.wechat.state.orders.get(paymentPart(first.body, 'outTradeNo')!.valueString!)?.tradeState).toBe('CLOSED');
    });
  });
}

export type { Bundle };
