import { parseSearchRequest } from '@medplum/core';
import type { ChargeItem, Extension, Invoice, Task } from '@medplum/fhirtypes';
import type { RefundStatus } from '../../../adapters/payment/payment-gateway';
import { childLogger } from '../../../engine/logger';
import { CHARGE_STATUS, OUT_REFUND_NO_SYSTEM, REFUNDED_AMOUNT_EXTENSION } from '../../billing/billing-vocabulary';
import { fenOf, money } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { cancelCirculationFor } from './circulation-cancel';
import {
  isRefundTask, OPEN_REFUND_STATES, outTradeNoOf, refundAmountOf, refundBusinessStatus, refundItemsOf, refundOutputs,
} from './refund-task';
import { changeVersioned } from './versioned-change';

const log = childLogger({ component: 'refunds' });

export interface RefundResultApplied {
  /** The refund Task the result is about, as it is now; absent when no Task has that out_refund_no. */
  task?: Task;
  /** Whether this call changed it (false: already applied, still PROCESSING, or not ours). */
  changed: boolean;
}

/** The refund Task with this out_refund_no, if any. */
export async function refundTaskByNumber(repo: Repository, outRefundNo: string): Promise<Task | undefined> {
  const found = await repo.search(parseSearchRequest(`Task?identifier=${encodeURIComponent(`${OUT_REFUND_NO_SYSTEM}|${outRefundNo}`)}`));
  return (found.resources as Task[]).find(isRefundTask);
}

/**
 * What a payment channel says of a refund (its notification, the answer to the refund call or to a query), applied to
 * the refund Task. Idempotent, so every path may call it as often as it hears the result:
 *  - SUCCESS: Task `completed` / succeeded with the refund id and time; its ChargeItems `not-billable`; the Invoice's
 *    REFUNDED_AMOUNT grows by the Task's amount. All three in one transaction, and only when the Task was not already
 *    completed, so the amount is added once however often SUCCESS arrives. It applies whatever the Task's state
 *    (money that came back is a fact; a refund the channel reports abnormal may still succeed later).
 *  - CLOSED / ABNORMAL: an open Task becomes `failed` with businessStatus closed / abnormal.
 *  - PROCESSING: nothing.
 */
export async function applyRefundResult(repo: Repository, status: RefundStatus): Promise<RefundResultApplied> {
  return repo.transaction(async (trx) => {
    const task = await refundTaskByNumber(trx, status.outRefundNo);
    if (!task) {
      log.warn('refund result for an unknown out_refund_no', { outRefundNo: status.outRefundNo, state: status.state });
      return { changed: false };
    }
    const invoiceId = task.focus?.reference?.split('/')[1];
    const invoice = invoiceId ? await trx.read<Invoice>('Invoice', invoiceId) : undefined;
    if (!invoice || (status.outTradeNo && outTradeNoOf(invoice) !== status.outTradeNo)) {
      log.error('refund result does not match its Task\'s order', { task: `Task/${task.id}`, outRefundNo: status.outRefundNo, outTradeNo: status.outTradeNo });
      return { task, changed: false };
    }
    if (status.state === 'SUCCESS') return succeed(trx, task, invoice, status);
    if (status.state === 'CLOSED' || status.state === 'ABNORMAL') {
      const note = status.state === 'CLOSED' ? '支付渠道已关闭此退款，款项未退回' : '支付渠道退款异常（如原支付卡已注销），请在商户平台处理';
      return failRefund(trx, task.id!, status.state === 'CLOSED' ? 'closed' : 'abnormal', note);
    }
    return { task, changed: false };
  });
}

async function succeed(repo: Repository, task: Task, invoice: Invoice, status: RefundStatus): Promise<RefundResultApplied> {
  const { resource, changed } = await changeVersioned<Task>(repo, 'Task', task.id!, (current) => current.status === 'completed' ? undefined : {
    ...current,
    status: 'completed',
    businessStatus: refundBusinessStatus('succeeded'),
    lastModified: new Date().toISOString(),
    output: refundOutputs(status.refundId, status.successAt ?? new Date().toISOString()),
  });
  if (!changed) return { task: resource, changed };
  const amountFen = refundAmountOf(resource);
  if (Number.isSafeInteger(status.refundFen) && status.refundFen !== amountFen) {
    log.warn('the channel refunded another amount than the Task asked', { task: `Task/${task.id}`, askedFen: amountFen, refundFen: status.refundFen });
  }
  for (const ref of refundItemsOf(resource)) {
    await changeVersioned<ChargeItem>(repo, 'ChargeItem', ref.split('/')[1], (item) =>
      item.status === CHARGE_STATUS.refunded ? undefined : { ...item, status: CHARGE_STATUS.refunded });
  }
  await changeVersioned<Invoice>(repo, 'Invoice', invoice.id!, (current) => ({
    ...current,
    extension: withRefunded(current.extension, (fenOf(current.extension?.find((e) => e.url === REFUNDED_AMOUNT_EXTENSION)?.valueMoney) ?? 0) + amountFen),
  }));
  // Normally done on approval; again here for a refund that succeeded while its approval did not commit.
  await cancelCirculationFor(repo, resource, invoice.id!);
  log.info('refund succeeded', { task: `Task/${task.id}`, invoice: `Invoice/${invoice.id}`, refundFen: amountFen });
  return { task: resource, changed };
}

function withRefunded(extensions: Extension[] | undefined, fen: number): Extension[] {
  return [...(extensions ?? []).filter((e) => e.url !== REFUNDED_AMOUNT_EXTENSION), { url: REFUNDED_AMOUNT_EXTENSION, valueMoney: money(fen) }];
}

/** An open refund Task → `failed` with businessStatus `closed` or `abnormal` and why, in a note. */
export async function failRefund(repo: Repository, taskId: string, state: 'closed' | 'abnormal', why: string): Promise<RefundResultApplied> {
  const { resource, changed } = await repo.transaction((trx) => changeVersioned<Task>(trx, 'Task', taskId, (current) => {
    if (!OPEN_REFUND_STATES.has(current.status)) return undefined;
    const now = new Date().toISOString();
    return {
      ...current,
      status: 'failed',
      businessStatus: refundBusinessStatus(state),
      lastModified: now,
      note: [...(current.note ?? []), { time: now, text: why }],
    };
  }));
  if (changed) log.warn('refund failed', { task: `Task/${taskId}`, state });
  return { task: resource, changed };
}
