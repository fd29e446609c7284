import type { Task } from '@medplum/fhirtypes';
import { applyCirculationEvent, businessStatusOf, taskOutput, type CirculationEvent } from '../../../mappings/circulation/circulation-transitions';
import { json, paidPrescription, prescriptions } from './circulation-fixtures';

const AT = '2026-11-26T10:20:00+08:00';
const RX = 'CF202611260031';
const apply = (task: Task, event: CirculationEvent) => applyCirculationEvent(task, event, prescriptions());
const state = (task: Task | undefined) => task && [task.status, businessStatusOf(task)];

/** The Task after each event in turn, failing when one changes nothing. */
function after(...events: CirculationEvent[]): Task {
  return events.reduce((task, event) => {
    const next = apply(task, event).task;
    if (!next) throw new Error(`${event.kind} changed nothing`);
    return next;
  }, paidPrescription().task);
}

const circulated: CirculationEvent = { kind: 'circulated', at: AT, rxNo: RX, numbers: { 'hi-rxno': 'HRXH33010600001000001', 'rx-trace-code': 'TRC1' } };
const pickedUp: CirculationEvent = {
  kind: 'picked-up', rxNo: RX, at: '2026-11-26T15:02:11+08:00', pharmacy: '星湖大药房(模拟)',
  drugs: [
    { code: 'XJ01CAA040A001010100483', name: '阿莫西林胶囊', quantity: 1, unit: '盒', traceCode: '81234567890000000001', lot: 'L20261120' },
    { code: 'XJ01CAA040A001010100483', name: '阿莫西林胶囊', quantity: 1, unit: '盒', traceCode: '81234567890000000002', lot: 'L20261120' },
  ],
};

describe('circulation events on the Task', () => {
  it('records the upload as in-progress / circulated, with the rx number as identifier and the peer numbers as outputs', () => {
    const task = after(circulated);
    expect(state(task)).toEqual(['in-progress', 'circulated']);
    expect(task.identifier).toEqual([{ system: 'http://lingshu.health/sid/circulation-rx-no', value: 'CF202611260031' }]);
    expect([taskOutput(task, 'hi-rxno', RX), taskOutput(task, 'rx-trace-code', RX)]).toEqual(['HRXH33010600001000001', 'TRC1']);
  });

  it('records the 预核验 numbers without moving the state', () => {
    const task = after({ kind: 'checked', at: AT, rxNo: RX, numbers: { 'hi-rxno': 'HRX1', 'rx-trace-code': 'TRC1' } });
    expect(state(task)).toEqual(['requested', 'pending-review']);
    expect(taskOutput(task, 'hi-rxno', RX)).toBe('HRX1');
  });

  it('changes nothing when the same event arrives twice', () => {
    let task = paidPrescription().task;
    for (const event of [circulated, { kind: 'approved', rxNo: RX, at: AT } as const, { kind: 'awaiting-pickup', rxNo: RX, at: AT } as const, pickedUp]) {
      task = apply(task, event).task!;
      expect(apply(task, event)).toEqual({ dispenses: [] });
    }
  });

  it('does not move a Task back: an approval reported after 备药完成 changes nothing', () => {
    const ready = after(circulated, { kind: 'awaiting-pickup', rxNo: RX, at: AT });
    expect(state(ready)).toEqual(['in-progress', 'awaiting-pickup']);
    expect(apply(ready, { kind: 'approved', rxNo: RX, at: AT }).task).toBeUndefined();
  });

  it('turns a 审方驳回 into status rejected with the opinion as reason and note', () => {
    const task = after(circulated, { kind: 'rejected', rxNo: RX, at: AT, note: '用药不适宜' });
    expect(state(task)).toEqual(['rejected', 'rejected']);
    expect(task.statusReason).toEqual({ text: '用药不适宜' });
    expect(task.note?.at(-1)).toEqual({ time: AT, text: `审方驳回（处方 ${RX}）：用药不适宜` });
  });

  it('turns a refused upload into status failed, which later news does not clear (a person does)', () => {
    const task = after({ kind: 'refused', rxNo: RX, at: AT, note: 'uploadChk: 缺少必填字段: prsc_time' });
    expect(state(task)).toEqual(['failed', 'pending-review']);
    expect(state(apply(task, circulated).task)).toEqual(['failed', 'circulated']);
  });

  it('completes the Task at 核销 and dispenses each prescribed drug with its 追溯码 and lot', () => {
    const { task, dispenses } = apply(after(circulated, { kind: 'approved', rxNo: RX, at: AT }), pickedUp);
    expect({ task, dispenses }).toEqual(json('out-picked-up.json'));
  });

  it('keeps a cancelled Task cancelled while recording what the peer reports, and completes it when the drugs were handed over anyway', () => {
    const cancelled = { ...after(circulated), status: 'cancelled' as const };
    const approved = apply(cancelled, { kind: 'approved', rxNo: RX, at: AT }).task!;
    expect(state(approved)).toEqual(['cancelled', 'approved']);
    expect(state(apply(approved, pickedUp).task)).toEqual(['completed', 'picked-up']);
  });

  it('notes a refused undo once and leaves the business state as it was', () => {
    const cancelled = { ...after(circulated, { kind: 'awaiting-pickup', rxNo: RX, at: AT }), status: 'cancelled' as const };
    const refused: CirculationEvent = { kind: 'cancel-refused', rxNo: RX, at: AT, note: '处方 CF202611260031 状态 dispensed，不能取消' };
    const noted = apply(cancelled, refused).task!;
    expect(state(noted)).toEqual(['cancelled', 'awaiting-pickup']);
    expect(noted.note?.at(-1)?.text).toBe(`撤销失败（处方 ${RX}）：处方 CF202611260031 状态 dispensed，不能取消`);
    expect(apply(noted, refused).task).toBeUndefined();
  });

  it('records an undo as businessStatus cancelled, once', () => {
    const undone = apply({ ...after(circulated), status: 'cancelled' }, { kind: 'cancelled', rxNo: RX, at: AT }).task!;
    expect(state(undone)).toEqual(['cancelled', 'cancelled']);
    expect(apply(undone, { kind: 'cancelled', rxNo: RX, at: AT }).task).toBeUndefined();
  });

  it('shows a delivery order out with the courier as delivering, which a late 备药完成 does not move back', () => {
    const out = after(circulated, { kind: 'approved', rxNo: RX, at: AT }, { kind: 'delivering', rxNo: RX, at: AT });
    expect(state(out)).toEqual(['in-progress', 'delivering']);
    expect(apply(out, { kind: 'awaiting-pickup', rxNo: RX, at: AT }).task).toBeUndefined();
    expect(state(apply(out, pickedUp).task)).toEqual(['completed', 'picked-up']);
  });

  it('cancels an expired Task with businessStatus expired, which the undo that follows leaves expired', () => {
    const expired = after(circulated, { kind: 'expired', rxNo: RX, at: AT, note: '已过期：超过有效期未取药' });
    expect(state(expired)).toEqual(['cancelled', 'expired']);
    expect(expired.statusReason?.text).toBe('已过期：超过有效期未取药');
    expect(apply(expired, { kind: 'cancelled', rxNo: RX, at: AT }).task).toBeUndefined();
    expect(apply(expired, { kind: 'expired', rxNo: RX, at: AT, note: '已过期' }).task).toBeUndefined();
  });

  it('does not expire a prescription already with the courier or not yet at the peer', () => {
    const note = '已过期';
    expect(apply(paidPrescription().task, { kind: 'expired', rxNo: RX, at: AT, note }).task).toBeUndefined();
    const out = after(circulated, { kind: 'delivering', rxNo: RX, at: AT });
    expect(apply(out, { kind: 'expired', rxNo: RX, at: AT, note }).task).toBeUndefined();
  });

  it('shows the least advanced prescription of a Task, and dispenses each prescription at its own 核销', () => {
    const { task } = paidPrescription();
    const [first, second] = prescriptions();
    const two = [first, { ...second, groupIdentifier: { system: 'http://lingshu.health/sid/prescription-no', value: 'CF202611260032' } }];
    const step = (t: Task, e: CirculationEvent) => applyCirculationEvent(t, e, two);
    let t = step(task, circulated).task!;
    expect(state(t)).toEqual(['in-progress', 'pending-review']);
    t = step(t, { ...circulated, rxNo: 'CF202611260032' }).task!;
    expect(state(t)).toEqual(['in-progress', 'circulated']);
    const firstPickedUp = step(t, pickedUp);
    expect(state(firstPickedUp.task)).toEqual(['in-progress', 'circulated']);
    expect(firstPickedUp.dispenses.map((d) => d.authorizingPrescription?.[0].reference)).toEqual(['MedicationRequest/mr-1']);
    const both = step(firstPickedUp.task!, { ...pickedUp, rxNo: 'CF202611260032', drugs: [] });
    expect(state(both.task)).toEqual(['completed', 'picked-up']);
    expect(both.dispenses.map((d) => d.authorizingPrescription?.[0].reference)).toEqual(['MedicationRequest/mr-2']);
  });
});
