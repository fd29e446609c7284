import type { ChargeItem, Task } from '@medplum/fhirtypes';
import { pollRefunds } from '../../../../fhir-resources/operations/refund/refund-poll';
import { businessStatusOf, outRefundNoOf } from '../../../../fhir-resources/operations/refund/refund-task';
import { invoke, paidBill, results, startRefundFixture, type RefundFixture } from './refund-fixture';

/*
 * The active query: refunds whose call got no answer, or whose notification never came, are finished by pollRefunds
 * asking the WeChat Pay simulator.
 */
describe('pollRefunds against the WeChat Pay simulator', () => {
  let fx: RefundFixture;
  let patient: string;
  let operator: string;
  // Ten minutes on: every Task 退款中 now has waited longer than the 5 minutes given to notifications.
  const later = () => new Date(Date.now() + 10 * 60_000);

  beforeAll(async () => {
    fx = await startRefundFixture('sqlite', 1000);
    await fx.repository.update({ resourceType: 'Patient', id: 'P1', name: [{ family: '王', given: ['测试'] }] });
    patient = await fx.token('patient', 'Patient/P1');
    operator = await fx.token('operator');
  }, 60_000);
  afterAll(async () => { await fx?.close(); });

  const gateways = () => ({ wechatpay: fx.gateway });

  async function approvedTask(name: string, fen: number): Promise<{ task: Task; outTradeNo: string; items: ChargeItem[] }> {
    const bill = await paidBill(fx, 'P1', [{ name, fen, kind: 'lab' }]);
    const asked = await invoke(fx, patient, `Invoice/${bill.invoice.id}/$request-refund`, [{ name: 'reason', valueString: '重复缴费' }]);
    const task = asked.body as Task;
    await invoke(fx, operator, 'Task/$approve-refund', [{ name: 'task', valueReference: { reference: `Task/${task.id}` } }]);
    return { task, outTradeNo: bill.outTradeNo, items: bill.items };
  }

  it('a refund call that got no answer stays 退款中, is sent again by the query and completed by the next one', async () => {
    const bill = await paidBill(fx, 'P1', [{ name: '幽门螺杆菌呼气试验', fen: 10000, kind: 'lab' }]);
    const task = (await invoke(fx, patient, `Invoice/${bill.invoice.id}/$request-refund`, [{ name: 'reason', valueString: '未做检查' }])).body as Task;
    fx.peer.fail('timeout', 1);
    const approved = await invoke(fx, operator, 'Task/$approve-refund', [{ name: 'task', valueReference: { reference: `Task/${task.id}` } }]);
    expect(results(approved.body)[0]).toMatchObject({ status: 'in-progress', businessStatus: 'refunding' });
    expect(fx.peer.state.refunds.get(outRefundNoOf(task)!)).toBeUndefined();

    const first = await pollRefunds(fx.repository, gateways(), { now: later, notifyUrl: fx.notifyUrl });
    expect(first).toMatchObject({ resent: 1, changed: 0 });
    expect(fx.peer.state.refunds.get(outRefundNoOf(task)!)).toMatchObject({ refund: 10000, status: 'PROCESSING' });

    await fx.peer.settleRefund(outRefundNoOf(task)!, 'SUCCESS', 0);
    const second = await pollRefunds(fx.repository, gateways(), { now: later });
    expect(second).toMatchObject({ changed: 1, resent: 0 });
    const done = await fx.repository.read<Task>('Task', task.id!);
    expect([done.status, businessStatusOf(done)]).toEqual(['completed', 'succeeded']);
  });

  it('after a channel fails to answer, the rest of a batch approval is left to the query instead of waited on', async () => {
    const bills = [await paidBill(fx, 'P1', [{ name: '血常规', fen: 2050, kind: 'lab' }]), await paidBill(fx, 'P1', [{ name: '尿常规', fen: 1500, kind: 'lab' }])];
    const tasks: Task[] = [];
    for (const b of bills) tasks.push((await invoke(fx, patient, `Invoice/${b.invoice.id}/$request-refund`, [{ name: 'reason', valueString: '重复开单' }])).body as Task);
    fx.peer.fail('timeout', 1);
    const approved = await invoke(fx, operator, 'Task/$approve-refund', tasks.map((t) => ({ name: 'task', valueReference: { reference: `Task/${t.id}` } })));
    expect(results(approved.body).map((r) => r.businessStatus)).toEqual(['refunding', 'refunding']);
    expect(tasks.map((t) => fx.peer.state.refunds.get(outRefundNoOf(t)!))).toEqual([undefined, undefined]);

    await pollRefunds(fx.repository, gateways(), { now: later, notifyUrl: fx.notifyUrl });
    expect(tasks.map((t) => fx.peer.state.refunds.get(outRefundNoOf(t)!)?.refund)).toEqual([2050, 1500]);
  });

  it('a refund whose notification was lost is completed by the query', async () => {
    const { task, items } = await approvedTask('粪便常规', 1200);
    await fx.peer.settleRefund(outRefundNoOf(task)!, 'SUCCESS', 0);
    await pollRefunds(fx.repository, gateways(), { now: later });
    expect((await fx.repository.read<Task>('Task', task.id!)).status).toBe('completed');
    expect((await fx.repository.read<ChargeItem>('ChargeItem', items[0].id!)).status).toBe('not-billable');
  });

  it('a refund the channel reports abnormal ends failed / abnormal', async () => {
    const { task } = await approvedTask('微量元素', 4000);
    await fx.peer.settleRefund(outRefundNoOf(task)!, 'ABNORMAL', 0);
    await pollRefunds(fx.repository, gateways(), { now: later });
    const failed = await fx.repository.read<Task>('Task', task.id!);
    expect([failed.status, businessStatusOf(failed)]).toEqual(['failed', 'abnormal']);
  });

  it('a refund still within its notification window is not asked about', async () => {
    const { task } = await approvedTask('骨密度', 5000);
    await fx.peer.settleRefund(outRefundNoOf(task)!, 'SUCCESS', 0);
    await pollRefunds(fx.repository, gateways());
    expect((await fx.repository.read<Task>('Task', task.id!)).status).toBe('in-progress');
  });
});
