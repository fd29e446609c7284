import type { ChargeItem, Invoice, Task } from '@medplum/fhirtypes';
import { REFUNDED_AMOUNT_EXTENSION } from '../../../../fhir-resources/billing/billing-vocabulary';
import { fenOf } from '../../../../fhir-resources/billing/money';
import { pollRefunds } from '../../../../fhir-resources/operations/refund/refund-poll';
import { businessStatusOf, outRefundNoOf } from '../../../../fhir-resources/operations/refund/refund-task';
import { invoke, paidBill, results, startRefundFixture, type RefundFixture } from './refund-fixture';

/*
 * Refunds of bills paid with Alipay, against the Alipay simulator: Alipay pays a refund out in its answer (fund_change
 * Y) and sends no notification, and answers a query about a refund it never received as if it were not paid yet.
 */
describe('refunds through Alipay', () => {
  let fx: RefundFixture;
  let patient: string;
  let operator: string;
  const later = () => new Date(Date.now() + 10 * 60_000);

  beforeAll(async () => {
    fx = await startRefundFixture('sqlite', 1000);
    await fx.repository.update({ resourceType: 'Patient', id: 'P1', name: [{ family: '王', given: ['测试'] }] });
    patient = await fx.token('patient', 'Patient/P1');
    operator = await fx.token('operator');
  }, 60_000);
  afterAll(async () => { await fx?.close(); });

  async function requestedAndApproved(name: string, fen: number, beforeApproval = () => {}) {
    const bill = await paidBill(fx, 'P1', [{ name, fen, kind: 'lab' }], { channel: 'alipay' });
    const task = (await invoke(fx, patient, `Invoice/${bill.invoice.id}/$request-refund`, [{ name: 'reason', valueString: '医生取消检查' }])).body as Task;
    beforeApproval();
    const approved = await invoke(fx, operator, 'Task/$approve-refund', [{ name: 'task', valueReference: { reference: `Task/${task.id}` } }]);
    return { bill, task, approved };
  }

  it('a refund Alipay pays out in its answer completes the Task in the approval itself', async () => {
    const { bill, task, approved } = await requestedAndApproved('磁共振平扫', 52000);
    expect(results(approved.body)[0]).toMatchObject({ status: 'completed', businessStatus: 'succeeded' });
    expect((await fx.repository.read<ChargeItem>('ChargeItem', bill.items[0].id!)).status).toBe('not-billable');
    const invoice = await fx.repository.read<Invoice>('Invoice', bill.invoice.id!);
    expect(fenOf(invoice.extension?.find((e) => e.url === REFUNDED_AMOUNT_EXTENSION)?.valueMoney)).toBe(52000);
    expect(fx.alipay.state.refunds.filter((r) => r.outRequestNo === outRefundNoOf(task)).map((r) => r.refund)).toEqual([52000]);
  });

  it('a refund that never reached Alipay is sent again by the query and completed', async () => {
    const { task, approved } = await requestedAndApproved('动态心电图', 18000, () => fx.alipay.fail('timeout', 1));
    expect(results(approved.body)[0]).toMatchObject({ status: 'in-progress', businessStatus: 'refunding' });
    expect(fx.alipay.state.refunds.filter((r) => r.outRequestNo === outRefundNoOf(task))).toHaveLength(0);

    await pollRefunds(fx.repository, { alipay: fx.alipayGateway }, { now: later });
    const done = await fx.repository.read<Task>('Task', task.id!);
    expect([done.status, businessStatusOf(done)]).toEqual(['completed', 'succeeded']);
    expect(fx.alipay.state.refunds.filter((r) => r.outRequestNo === outRefundNoOf(task))).toHaveLength(1);
  });
});
