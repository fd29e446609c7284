import type { ChargeItem, Invoice, OperationOutcome, Task } from '@medplum/fhirtypes';
import { PAYMENT_CHANNEL_EXTENSION, REFUNDED_AMOUNT_EXTENSION } from '../../../../fhir-resources/billing/billing-vocabulary';
import { fenOf } from '../../../../fhir-resources/billing/money';
import { businessStatusOf, outRefundNoOf, refundAmountOf, refundItemsOf, REFUND_OUTPUT } from '../../../../fhir-resources/operations/refund/refund-task';
import { invoke, paidBill, results, startRefundFixture, type RefundFixture } from './refund-fixture';

/*
 * The refund workflow through the FHIR REST API with demo tokens, refunding at the WeChat Pay simulator through the
 * WeChat Pay gateway: a patient asks, an operator approves or rejects, the simulator settles, its signed notification
 * reaches applyRefundResult.
 */
describe.each(['sqlite', 'postgres'] as const)('refunds on %s', (kind) => {
  let fx: RefundFixture;
  let patient: string;
  let otherPatient: string;
  let operator: string;

  beforeAll(async () => {
    fx = await startRefundFixture(kind);
    for (const [id, family] of [['P1', '王'], ['P2', '李']]) await fx.repository.update({ resourceType: 'Patient', id, name: [{ family, given: ['测试'] }] });
    patient = await fx.token('patient', 'Patient/P1');
    otherPatient = await fx.token('patient', 'Patient/P2');
    operator = await fx.token('operator');
  }, 60_000);
  afterAll(async () => { await fx?.close(); });

  const requestRefund = (token: string, invoice: Invoice, items: ChargeItem[] = [], reason = '不需要了') => invoke(fx, token, `Invoice/${invoice.id}/$request-refund`, [
    ...items.map((i) => ({ name: 'item', valueReference: { reference: `ChargeItem/${i.id}` } })),
    { name: 'reason', valueString: reason },
  ]);
  const decide = (op: 'approve-refund' | 'reject-refund', token: string, tasks: Task[], note?: string) => invoke(fx, token, `Task/$${op}`, [
    ...tasks.map((t) => ({ name: 'task', valueReference: { reference: `Task/${t.id}` } })),
    ...(note ? [{ name: 'note', valueString: note }] : []),
  ]);
  const read = <T extends Task | Invoice | ChargeItem>(type: T['resourceType'], id: string) => fx.repository.read<T>(type, id);
  const refundsAtSimulator = (outTradeNo: string) => [...fx.peer.state.refunds.values()].filter((r) => r.outTradeNo === outTradeNo);
  const refundedFen = (invoice: Invoice) => fenOf(invoice.extension?.find((e) => e.url === REFUNDED_AMOUNT_EXTENSION)?.valueMoney);
  const diagnostics = (body: OperationOutcome) => body.issue?.[0]?.diagnostics ?? '';

  async function requested(bill: Awaited<ReturnType<typeof paidBill>>, items: ChargeItem[] = []): Promise<Task> {
    const res = await requestRefund(patient, bill.invoice, items);
    expect(res.status).toBe(200);
    return res.body as Task;
  }

  it('a patient\'s request, approved by an operator, is refunded at WeChat Pay and completed by its SUCCESS notification', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '血常规', fen: 2050, kind: 'lab' }, { name: '尿常规', fen: 1500, kind: 'lab' }]);
    const task = await requested(bill);
    expect(task).toMatchObject({ status: 'requested', focus: { reference: `Invoice/${bill.invoice.id}` }, for: { reference: 'Patient/P1' }, requester: { reference: 'Patient/P1' } });
    expect(businessStatusOf(task)).toBe('awaiting-approval');
    expect(refundAmountOf(task)).toBe(3550);
    expect(refundItemsOf(task).sort()).toEqual(bill.items.map((i) => `ChargeItem/${i.id}`).sort());

    const approved = await decide('approve-refund', operator, [task], '核实无误');
    expect(approved.status).toBe(200);
    expect(results(approved.body)).toEqual([expect.objectContaining({ task: `Task/${task.id}`, status: 'in-progress', businessStatus: 'refunding' })]);
    const [refund] = refundsAtSimulator(bill.outTradeNo);
    expect(refund).toMatchObject({ outRefundNo: outRefundNoOf(task), refund: 3550, total: 3550, status: 'PROCESSING' });

    const settled = await fx.peer.settleRefund(refund.outRefundNo, 'SUCCESS');
    expect(settled!.deliveries[0].status).toBeLessThan(300);
    const done = await read<Task>('Task', task.id!);
    expect(done.status).toBe('completed');
    expect(businessStatusOf(done)).toBe('succeeded');
    expect(done.output?.find((o) => o.type.coding?.[0].code === REFUND_OUTPUT.refundId)?.valueString).toBe(refund.refundId);
    for (const item of bill.items) expect((await read<ChargeItem>('ChargeItem', item.id!)).status).toBe('not-billable');
    expect(refundedFen(await read<Invoice>('Invoice', bill.invoice.id!))).toBe(3550);
  });

  it('an approval sent twice refunds once at the simulator', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '肝功能', fen: 8800, kind: 'lab' }]);
    const task = await requested(bill);
    expect((await decide('approve-refund', operator, [task])).status).toBe(200);
    const again = await decide('approve-refund', operator, [task]);
    expect(again.status).toBe(200);
    const [result] = results(again.body);
    expect(result.outcome?.issue[0]).toMatchObject({ severity: 'error', diagnostics: expect.stringContaining('已处理（退款中），未重复退款') });
    expect(refundsAtSimulator(bill.outTradeNo)).toHaveLength(1);
  });

  it('two operators approving the same request at once make one refund', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '肾功能', fen: 6600, kind: 'lab' }]);
    const task = await requested(bill);
    const other = await fx.token('operator', 'Practitioner/OP2');
    const answers = await Promise.all([decide('approve-refund', operator, [task]), decide('approve-refund', other, [task])]);
    const outcomes = answers.flatMap((a) => results(a.body)).map((r) => r.outcome?.issue[0].severity);
    expect(outcomes.sort()).toEqual(['error', 'information']);
    expect(refundsAtSimulator(bill.outTradeNo)).toHaveLength(1);
    expect((await read<Task>('Task', task.id!)).status).toBe('in-progress');
  });

  it('a SUCCESS notification delivered twice at once adds the refunded amount once', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '心电图', fen: 3000, kind: 'lab' }]);
    const task = await requested(bill);
    await decide('approve-refund', operator, [task]);
    const settled = await fx.peer.settleRefund(outRefundNoOf(task)!, 'SUCCESS', 2);
    expect(settled!.deliveries.map((d) => d.status! < 300)).toEqual([true, true]);
    expect(refundedFen(await read<Invoice>('Invoice', bill.invoice.id!))).toBe(3000);
    expect((await read<Task>('Task', task.id!)).status).toBe('completed');
  });

  it('two requests for the same item at once make one refund request', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '血沉', fen: 1200, kind: 'lab' }]);
    const answers = await Promise.all([requestRefund(patient, bill.invoice, bill.items), requestRefund(patient, bill.invoice, bill.items)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const tasks = await fx.repository.search({ resourceType: 'Task', filters: [{ code: 'focus', operator: 'eq' as never, value: `Invoice/${bill.invoice.id}` }] });
    expect(tasks.resources.filter((t) => (t as Task).code?.coding?.[0].code === 'refund')).toHaveLength(1);
  });

  it('a refund larger than what is left of the bill is refused with the amounts', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '阿莫西林胶囊', fen: 2500, kind: 'drug' }, { name: '布洛芬缓释胶囊', fen: 1800, kind: 'drug' }]);
    // 20 元 of it was refunded at the HIS window already.
    await fx.repository.update<Invoice>({ ...bill.invoice, extension: [...bill.invoice.extension!, { url: REFUNDED_AMOUNT_EXTENSION, valueMoney: { value: 20, currency: 'CNY' } }] });
    const res = await requestRefund(patient, bill.invoice, bill.items);
    expect(res.status).toBe(422);
    expect(diagnostics(res.body)).toBe('退费金额 43.00 元超过此账单可退金额 23.00 元（实付 43.00 元，已退 20.00 元，退款中 0.00 元）');
  });

  it('one item of a two-item bill is refunded and the other stays billed', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '甲功三项', fen: 12000, kind: 'lab' }, { name: '血脂四项', fen: 4500, kind: 'lab' }]);
    const task = await requested(bill, [bill.items[1]]);
    expect(refundAmountOf(task)).toBe(4500);
    await decide('approve-refund', operator, [task]);
    expect(refundsAtSimulator(bill.outTradeNo)).toEqual([expect.objectContaining({ refund: 4500, total: 16500 })]);
    await fx.peer.settleRefund(outRefundNoOf(task)!, 'SUCCESS');
    expect((await read<ChargeItem>('ChargeItem', bill.items[0].id!)).status).toBe('billed');
    expect((await read<ChargeItem>('ChargeItem', bill.items[1].id!)).status).toBe('not-billable');
    expect(refundedFen(await read<Invoice>('Invoice', bill.invoice.id!))).toBe(4500);
  });

  it('an item already refunded cannot be asked for again, and the answer names it', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '乙肝五项', fen: 5000, kind: 'lab' }, { name: '丙肝抗体', fen: 3000, kind: 'lab' }]);
    await requested(bill, [bill.items[0]]);
    const res = await requestRefund(patient, bill.invoice, [bill.items[0]]);
    expect(res.status).toBe(409);
    expect(diagnostics(res.body)).toBe(`「乙肝五项」（ChargeItem/${bill.items[0].id}）已在另一笔退费申请中或已退费`);
    expect(res.body.issue[0].expression).toEqual(['item[0]']);
  });

  it('an operator rejects a request with a reason, and nothing is refunded', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: 'CT 平扫', fen: 28000, kind: 'lab' }]);
    const task = await requested(bill);
    const res = await decide('reject-refund', operator, [task], '检查已预约完成，请到窗口咨询');
    expect(results(res.body)).toEqual([expect.objectContaining({ status: 'rejected', businessStatus: 'rejected' })]);
    const rejected = await read<Task>('Task', task.id!);
    expect(rejected.note?.at(-1)?.text).toBe('驳回退费：检查已预约完成，请到窗口咨询');
    expect(refundsAtSimulator(bill.outTradeNo)).toHaveLength(0);
    expect((await read<ChargeItem>('ChargeItem', bill.items[0].id!)).status).toBe('billed');
  });

  it('a rejection without a reason is refused', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '胸片', fen: 9000, kind: 'lab' }]);
    const task = await requested(bill);
    const res = await decide('reject-refund', operator, [task]);
    expect(res.status).toBe(400);
    expect(diagnostics(res.body)).toBe('驳回退费申请需填写原因（note）');
  });

  it('a bill paid at the pharmacy is not refunded on line, and the patient is told where to go', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '板蓝根颗粒', fen: 1500, kind: 'drug' }]);
    await fx.repository.update<Invoice>({ ...bill.invoice, extension: [{ url: PAYMENT_CHANNEL_EXTENSION, valueCode: 'pharmacy' }] });
    const res = await requestRefund(patient, bill.invoice);
    expect(res.status).toBe(409);
    expect(diagnostics(res.body)).toBe('此账单的支付方式（药房支付）不支持线上退费，请到收费窗口或药房办理');
  });

  it('a patient cannot approve a refund', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '彩超', fen: 15000, kind: 'lab' }]);
    const task = await requested(bill);
    expect((await decide('approve-refund', patient, [task])).status).toBe(403);
    expect((await read<Task>('Task', task.id!)).status).toBe('requested');
    expect(refundsAtSimulator(bill.outTradeNo)).toHaveLength(0);
  });

  it('a patient cannot ask for a refund of another patient\'s bill', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '维生素C片', fen: 800, kind: 'drug' }]);
    const res = await requestRefund(otherPatient, bill.invoice);
    expect(res.status).toBe(403);
    expect(diagnostics(res.body)).toBe(`账单 Invoice/${bill.invoice.id} 不是您的账单，不能为他人申请退费`);
  });

  it('an operator approves several requests in one call', async () => {
    const bills = [
      await paidBill(fx, 'P1', [{ name: '血糖', fen: 1000, kind: 'lab' }]),
      await paidBill(fx, 'P2', [{ name: '糖化血红蛋白', fen: 6000, kind: 'lab' }]),
    ];
    const tasks = [await requested(bills[0]), (await requestRefund(otherPatient, bills[1].invoice)).body as Task];
    const res = await decide('approve-refund', operator, tasks);
    expect(results(res.body)).toEqual(tasks.map((t) => expect.objectContaining({ task: `Task/${t.id}`, businessStatus: 'refunding' })));
    expect(bills.map((b) => refundsAtSimulator(b.outTradeNo).map((r) => r.refund))).toEqual([[1000], [6000]]);
  });

  it('approving a refund of drugs cancels the bill\'s circulation', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '头孢克肟分散片', fen: 3900, kind: 'drug' }]);
    const task = await requested(bill);
    await decide('approve-refund', operator, [task]);
    expect((await read<Task>('Task', bill.circulation!.id!)).status).toBe('cancelled');
  });

  it('refunding the exam of a bill with drugs leaves the prescription circulating', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '氯雷他定片', fen: 2200, kind: 'drug' }, { name: '过敏原检测', fen: 26000, kind: 'lab' }]);
    const task = await requested(bill, [bill.items[1]]);
    await decide('approve-refund', operator, [task]);
    expect((await read<Task>('Task', bill.circulation!.id!)).status).toBe('requested');
  });

  it('a dispensed drug is not refunded, and the answer names it', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '奥美拉唑肠溶胶囊', fen: 2600, kind: 'drug' }]);
    await fx.repository.create({
      resourceType: 'MedicationDispense', status: 'completed', subject: { reference: 'Patient/P1' }, medicationCodeableConcept: { text: '奥美拉唑肠溶胶囊' },
      authorizingPrescription: [{ reference: `MedicationRequest/${bill.orders[0].id}` }], whenHandedOver: new Date().toISOString(),
    });
    const res = await requestRefund(patient, bill.invoice, bill.items);
    expect(res.status).toBe(409);
    expect(diagnostics(res.body)).toBe(`「奥美拉唑肠溶胶囊」（ChargeItem/${bill.items[0].id}）已发药，不能退费`);
  });

  it('a drug dispensed between request and approval is not refunded, and the operator is told why', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '蒙脱石散', fen: 1600, kind: 'drug' }]);
    const task = await requested(bill);
    await fx.repository.create({
      resourceType: 'MedicationDispense', status: 'completed', subject: { reference: 'Patient/P1' }, medicationCodeableConcept: { text: '蒙脱石散' },
      authorizingPrescription: [{ reference: `MedicationRequest/${bill.orders[0].id}` }], whenHandedOver: new Date().toISOString(),
    });
    const res = await decide('approve-refund', operator, [task]);
    expect(results(res.body)[0].outcome?.issue[0].diagnostics).toBe(`「蒙脱石散」（ChargeItem/${bill.items[0].id}）已发药，不能退费（申请之后状态已变化），请驳回此申请`);
    expect((await read<Task>('Task', task.id!)).status).toBe('requested');
    expect(refundsAtSimulator(bill.outTradeNo)).toHaveLength(0);
  });

  it('an exam booked for a time still ahead must have its booking cancelled before it is refunded', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '胃镜检查', fen: 48000, kind: 'lab' }]);
    const start = new Date(Date.now() + 3 * 86_400_000).toISOString();
    await fx.repository.create({
      resourceType: 'Appointment', status: 'booked', start, end: new Date(Date.parse(start) + 1_800_000).toISOString(),
      basedOn: [{ reference: `ServiceRequest/${bill.orders[0].id}` }], participant: [{ actor: { reference: 'Patient/P1' }, status: 'accepted' }],
    });
    const res = await requestRefund(patient, bill.invoice);
    expect(res.status).toBe(409);
    expect(diagnostics(res.body)).toContain('已预约');
    expect(diagnostics(res.body)).toContain('请先取消预约再申请退费');
  });

  it('a refund the channel refuses ends failed / abnormal with its reason in a note', async () => {
    // Recorded as paid here, but never paid at the gateway: WeChat Pay refuses to refund it.
    const bill = await paidBill(fx, 'P1', [{ name: '血型鉴定', fen: 2000, kind: 'lab' }], { pay: false });
    const task = await requested(bill);
    const res = await decide('approve-refund', operator, [task]);
    expect(results(res.body)[0]).toMatchObject({ status: 'failed', businessStatus: 'abnormal' });
    const failed = await read<Task>('Task', task.id!);
    expect(failed.note?.at(-1)?.text).toContain('订单未支付，不能发起退款');
  });

  it('a refund the channel closes ends failed / closed and frees its items', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '凝血四项', fen: 7000, kind: 'lab' }]);
    const task = await requested(bill);
    await decide('approve-refund', operator, [task]);
    await fx.peer.settleRefund(outRefundNoOf(task)!, 'CLOSED');
    const closed = await read<Task>('Task', task.id!);
    expect([closed.status, businessStatusOf(closed)]).toEqual(['failed', 'closed']);
    const again = await requested(bill);
    expect(outRefundNoOf(again)).toBe(`R${bill.outTradeNo}-2`);
  });
});
