import type { CodeableConcept, Invoice, Reference, Task, TaskInput, TaskOutput } from '@medplum/fhirtypes';
import {
  OUT_REFUND_NO_SYSTEM, OUT_TRADE_NO_SYSTEM, REFUND_STATUS, TASK_BUSINESS_STATUS_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM,
  type RefundStatus,
} from '../../billing/billing-vocabulary';
import { fenOf, money } from '../../billing/money';
import { codeSystem } from '../../profiles/lingshu-canonical';

/**
 * The refund Task (code `refund`) as the refund operations write it and the channels read it (HIS 退费 reads the
 * items and the amount of a Task that reached `completed`): identifier OUT_REFUND_NO, `focus` the Invoice, `for` the
 * Patient, `input` one `item` per ChargeItem + `reason` + `amount` (Money, 分 in its extension), `output` the
 * gateway's `refund-id` and `refunded-at` once it succeeded.
 */
export const REFUND_PARAMETER_SYSTEM = codeSystem('refund-task-parameter');
export const REFUND_INPUT = { item: 'item', reason: 'reason', amount: 'amount' } as const;
export const REFUND_OUTPUT = { refundId: 'refund-id', refundedAt: 'refunded-at' } as const;

/** WeChat's out_refund_no and Alipay's out_request_no are at most 64 characters of [A-Za-z0-9_-|*@]. */
const OUT_REFUND_NO_MAX = 64;

export const REFUND_TASK_CODE: CodeableConcept = { coding: [{ system: TASK_CODE_SYSTEM, code: TASK_CODE.refund, display: '退费' }] };

export function refundBusinessStatus(status: RefundStatus): CodeableConcept {
  return { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code: status, display: REFUND_STATUS[status] }], text: REFUND_STATUS[status] };
}

export function businessStatusOf(task: Task): string | undefined {
  return task.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS_SYSTEM)?.code;
}

export function isRefundTask(task: Task): boolean {
  return task.code?.coding?.some((c) => c.system === TASK_CODE_SYSTEM && c.code === TASK_CODE.refund) ?? false;
}

const parameterType = (code: string): CodeableConcept => ({ coding: [{ system: REFUND_PARAMETER_SYSTEM, code }] });
const isParameter = (p: TaskInput | TaskOutput, code: string): boolean =>
  p.type?.coding?.some((c) => c.system === REFUND_PARAMETER_SYSTEM && c.code === code) ?? false;

export function refundInputs(items: Reference[], reason: string | undefined, amountFen: number): TaskInput[] {
  return [
    ...items.map((item) => ({ type: parameterType(REFUND_INPUT.item), valueReference: item })),
    ...(reason ? [{ type: parameterType(REFUND_INPUT.reason), valueString: reason }] : []),
    { type: parameterType(REFUND_INPUT.amount), valueMoney: money(amountFen) },
  ];
}

export function refundOutputs(refundId: string | undefined, refundedAt: string | undefined): TaskOutput[] {
  return [
    ...(refundId ? [{ type: parameterType(REFUND_OUTPUT.refundId), valueString: refundId }] : []),
    ...(refundedAt ? [{ type: parameterType(REFUND_OUTPUT.refundedAt), valueDateTime: refundedAt }] : []),
  ];
}

/** `ChargeItem/<id>` of each item the Task refunds. */
export function refundItemsOf(task: Task): string[] {
  return (task.input ?? []).filter((i) => isParameter(i, REFUND_INPUT.item)).map((i) => i.valueReference?.reference ?? '').filter(Boolean);
}

export function refundAmountOf(task: Task): number {
  return fenOf((task.input ?? []).find((i) => isParameter(i, REFUND_INPUT.amount))?.valueMoney) ?? 0;
}

export function refundReasonOf(task: Task): string | undefined {
  return (task.input ?? []).find((i) => isParameter(i, REFUND_INPUT.reason))?.valueString;
}

export function outRefundNoOf(task: Task): string | undefined {
  return task.identifier?.find((i) => i.system === OUT_REFUND_NO_SYSTEM)?.value;
}

export function outTradeNoOf(invoice: Invoice): string | undefined {
  return invoice.identifier?.find((i) => i.system === OUT_TRADE_NO_SYSTEM)?.value;
}

/**
 * The n-th refund of an order: `R<out_trade_no>-<n>`. Derived, not random, so the number is the same however often a
 * Task is approved, and two requests racing for the same number meet at the store (the second finds the first).
 * An out_trade_no too long to fit keeps its end, where order numbers carry their sequence.
 */
export function outRefundNo(outTradeNo: string, sequence: number): string {
  const suffix = `-${sequence}`;
  const room = OUT_REFUND_NO_MAX - 1 - suffix.length;
  return `R${outTradeNo.slice(-room)}${suffix}`;
}

/** The sequence number of a refund number made by `outRefundNo`, or 0. */
export function refundSequenceOf(refundNo: string | undefined): number {
  const m = refundNo ? /-(\d+)$/.exec(refundNo) : null;
  return m ? Number(m[1]) : 0;
}

/**
 * Task states of a refund: open while `requested` (待审核) or `in-progress` (退款中); `completed` succeeded; `rejected`,
 * `failed` (closed / abnormal) and `cancelled` gave nothing back.
 */
export const OPEN_REFUND_STATES: ReadonlySet<string> = new Set(['requested', 'in-progress']);

/** Whether the Task holds its items: open, or succeeded (the items are refunded). */
export function holdsItems(task: Task): boolean {
  return OPEN_REFUND_STATES.has(task.status) || task.status === 'completed';
}
