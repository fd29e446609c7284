import { parseSearchRequest } from '@medplum/core';
import type { Invoice, Task } from '@medplum/fhirtypes';
import { PaymentGatewayError, type RefundStatus } from '../../../adapters/payment/payment-gateway';
import { childLogger } from '../../../engine/logger';
import { TASK_CODE, TASK_CODE_SYSTEM } from '../../billing/billing-vocabulary';
import type { Repository } from '../../store/repository';
import { applyRefundResult } from './refund-result';
import { channelOf, sendRefund, type RefundGateways, type RefundChannels } from './refund-sending';
import { businessStatusOf, outRefundNoOf, outTradeNoOf } from './refund-task';

const log = childLogger({ component: 'refunds' });

export interface PollRefundsOptions {
  /** A Task 退款中 unchanged for this long is asked about (default 5 minutes): notifications get the first chance. */
  olderThanMs?: number;
  /** At most this many Tasks per run (default 100). */
  limit?: number;
  /** For refunds sent again (see below). */
  notifyUrl?: RefundChannels['notifyUrl'];
  now?: () => Date;
}

export interface PollRefundsReport {
  checked: number;
  /** Tasks whose state changed (succeeded, closed, abnormal). */
  changed: number;
  /** Refunds the channel did not know and that were sent again. */
  resent: number;
  /** Tasks the channel could not be asked about this time (transport errors); they are asked again next run. */
  unanswered: number;
}

/** The channel answered that it has no such refund: the first call never reached it. WeChat answers 404. */
function unknownRefund(err: unknown): boolean {
  return err instanceof PaymentGatewayError && (err.status === 404 || /NOT_?EXIST/i.test(err.code));
}

/**
 * Alipay answers a query about a refund it never received like one not yet paid out: no refund_status, no amount
 * (the gateway gives PROCESSING with 0 分). A refund it does know always carries its amount.
 */
const unknownToAlipay = (status: RefundStatus): boolean => status.state === 'PROCESSING' && !status.refundFen;

/**
 * The active query, scheduled by the payment channel: refund Tasks 退款中 for longer than `olderThanMs` are asked
 * about (queryRefund) and the answer applied (applyRefundResult). A refund the channel does not know — its first call
 * got no answer and never arrived — is sent again under the same out_refund_no (the channels make one refund per number). One Task's failure does not stop the
 * others; each Task is applied in a transaction of its own.
 */
export async function pollRefunds(repo: Repository, gateways: RefundGateways, options: PollRefundsOptions = {}): Promise<PollRefundsReport> {
  const now = options.now?.() ?? new Date();
  const before = new Date(now.getTime() - (options.olderThanMs ?? 5 * 60_000)).toISOString();
  const query = `Task?code=${encodeURIComponent(`${TASK_CODE_SYSTEM}|${TASK_CODE.refund}`)}&status=in-progress&_lastUpdated=lt${encodeURIComponent(before)}&_sort=_lastUpdated&_count=${options.limit ?? 100}`;
  const tasks = ((await repo.search(parseSearchRequest(query))).resources as Task[]).filter((t) => businessStatusOf(t) === 'refunding');
  const report: PollRefundsReport = { checked: 0, changed: 0, resent: 0, unanswered: 0 };
  for (const task of tasks) {
    report.checked++;
    try {
      await pollOne(repo, gateways, options, task, report);
    } catch (err) {
      report.unanswered++;
      log.warn('refund query failed; asked again next run', { task: `Task/${task.id}`, error: (err as Error).message });
    }
  }
  if (report.checked) log.info('refunds queried', { ...report });
  return report;
}

async function pollOne(repo: Repository, gateways: RefundGateways, options: PollRefundsOptions, task: Task, report: PollRefundsReport): Promise<void> {
  const invoice = await repo.read<Invoice>('Invoice', task.focus?.reference?.split('/')[1] ?? '');
  const channel = channelOf(invoice);
  const gateway = channel ? gateways[channel] : undefined;
  const outRefundNo = outRefundNoOf(task);
  const outTradeNo = outTradeNoOf(invoice);
  if (!gateway || !outRefundNo || !outTradeNo) {
    log.warn('refund Task cannot be queried', { task: `Task/${task.id}`, channel });
    return;
  }
  let status: RefundStatus | undefined;
  try {
    status = await gateway.queryRefund(outRefundNo, outTradeNo);
  } catch (err) {
    if (!unknownRefund(err)) throw err;
  }
  if (!status || unknownToAlipay(status)) {
    report.resent++;
    const sent = await repo.transaction((trx) => sendRefund(trx, { gateways, notifyUrl: options.notifyUrl }, task, invoice));
    if (sent.kind === 'unanswered') report.unanswered++;
    else if (sent.task.status !== 'in-progress') report.changed++;
    return;
  }
  if ((await applyRefundResult(repo, status)).changed) report.changed++;
}
