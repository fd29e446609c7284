import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { ChargeItem, Invoice, Reference, Task } from '@medplum/fhirtypes';
import { childLogger } from '../../../engine/logger';
import { INVOICE_STATUS, OUT_REFUND_NO_SYSTEM } from '../../billing/billing-vocabulary';
import { fenOf } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { operation, refs, resource, string, type OperationCaller } from '../operation';
import { badInput, businessRule, notFoundHere, notYours, stateConflict } from '../workflow-outcomes';
import {
  chargeItemRef, circulationTasksOf, invoiceLines, invoiceRefunds, itemLabel, refundTasksOf, refusalOf, yuan,
} from './refundable-items';
import { channelOf, type RefundChannels } from './refund-sending';
import {
  outRefundNo, outRefundNoOf, outTradeNoOf, REFUND_TASK_CODE, refundBusinessStatus, refundInputs, refundSequenceOf,
} from './refund-task';

const log = childLogger({ component: 'refunds' });

const CHANNEL_NAMES: Record<string, string> = { wechatpay: '微信支付', alipay: '支付宝', pharmacy: '药房支付' };

const REQUESTER_TYPES = /^(Patient|Practitioner|PractitionerRole|Organization|RelatedPerson|Device)\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * `POST /fhir/Invoice/{id}/$request-refund`: `item` (ChargeItem refs; every refundable item of the Invoice when none
 * is named), `reason` → the refund Task, 待审核. The Invoice is read as the caller may read it: a patient asking about
 * another patient's bill is told so (403), not that it does not exist, because the bill number came from somewhere
 * the patient saw it. What may be refunded: refundable-items.ts. The Task is written elevated (patients do not
 * write Tasks), in this operation's transaction.
 */
export function requestRefundOperation(channels: RefundChannels) {
  return operation({
    name: 'request-refund',
    level: 'instance',
    resourceType: 'Invoice',
    description: '申请退费：账单中已缴费、未发药/未执行的项目，审核通过后原路退回',
    parameters: {
      item: refs<ChargeItem>('ChargeItem'),
      reason: string({ documentation: '退费原因（患者或操作员填写）' }),
    },
    output: { return: resource<Task>('Task') },
    async run(repo, p, context) {
      const invoice = await invoiceOfCaller(repo, context.elevated, context.id!);
      const named = p.item.map((r, i) => ({ reference: chargeItemRef(r.reference), index: i, given: r.reference }));
      const task = await requestRefund(context.elevated, channels, { invoice, named, reason: p.reason, requester: requesterOf(context.caller), by: context.caller.role });
      return { return: task };
    },
  });
}

export interface RefundRequest {
  invoice: Invoice;
  /** The items asked for (`item[index]` in refusals); none = every refundable item of the Invoice. */
  named: Array<{ reference: string | undefined; index: number; given?: string }>;
  reason: string;
  requester: NonNullable<Task['requester']>;
  /** Who asked, for the log line (a role, or the workflow that asked on the patient's behalf). */
  by: string;
  /** Named items that may not be refunded are left out rather than refused (the hospital asking on its own). */
  skipRefused?: boolean;
}

/**
 * The refund Task for `invoice`, 待审核: what `$request-refund` does once it knows the caller may ask, and what the
 * hospital's own workflows (an expired circulation) call to give a patient's money back through the same approval.
 * `elevated` writes the Task, in the caller's transaction.
 */
export async function requestRefund(elevated: Repository, channels: Pick<RefundChannels, 'gateways'>, r: RefundRequest): Promise<Task> {
  const { invoice, named } = r;
  if (invoice.status !== INVOICE_STATUS.paid) {
    throw stateConflict(`账单 Invoice/${invoice.id} ${invoice.status === INVOICE_STATUS.awaitingPayment ? '尚未支付' : '已作废'}，不能退费`, 'Invoice.status');
  }
  const channel = channelOf(invoice);
  const outTradeNo = outTradeNoOf(invoice);
  if (!channel || !channels.gateways[channel] || !outTradeNo) {
    throw stateConflict(`此账单的支付方式（${CHANNEL_NAMES[channel ?? ''] ?? channel ?? '未记录'}）不支持线上退费，请到收费窗口或药房办理`, 'Invoice.extension');
  }
  if (!r.reason.trim()) throw badInput('请填写退费原因', 'reason');

  const tasks = await refundTasksOf(elevated, invoice.id!);
  const refunds = invoiceRefunds(invoice, tasks);
  const circulation = await circulationTasksOf(elevated, invoice.id!);
  const lines = invoiceLines(invoice);
  const chosen: Array<{ reference: string; amountFen: number }> = [];
  const why: string[] = [];
  if (named.length === 0) {
    for (const line of lines) {
      const item = await elevated.read<ChargeItem>('ChargeItem', line.reference.split('/')[1]);
      const refusal = await refusalOf(elevated, item, line.reference, refunds, circulation);
      if (refusal) why.push(refusal);
      else chosen.push({ reference: line.reference, amountFen: amountOf(line.amountFen, item) });
    }
  } else {
    for (const n of named) {
      const where = `item[${n.index}]`;
      if (!n.reference) throw badInput(`${n.given ?? '(空)'} 不是 ChargeItem 引用`, where);
      if (chosen.some((c) => c.reference === n.reference)) continue;
      const line = lines.find((l) => l.reference === n.reference);
      const item = await elevated.read<ChargeItem>('ChargeItem', n.reference.split('/')[1]).catch(() => undefined);
      if (!line || !item) throw stateConflict(`${itemLabel(item, n.reference)}不属于账单 Invoice/${invoice.id}`, where);
      const refusal = await refusalOf(elevated, item, n.reference, refunds, circulation);
      if (refusal && r.skipRefused) why.push(refusal);
      else if (refusal) throw stateConflict(refusal, where);
      else chosen.push({ reference: n.reference, amountFen: amountOf(line.amountFen, item) });
    }
  }
  if (chosen.length === 0) throw stateConflict(`此账单没有可退费的项目${why.length ? `：${why.join('；')}` : ''}`, 'Invoice.lineItem');

  const amountFen = chosen.reduce((sum, c) => sum + c.amountFen, 0);
  if (amountFen > refunds.leftFen) {
    throw businessRule(
      `退费金额 ${yuan(amountFen)}超过此账单可退金额 ${yuan(Math.max(0, refunds.leftFen))}（实付 ${yuan(refunds.totalFen)}，已退 ${yuan(refunds.refundedFen)}，退款中 ${yuan(refunds.inFlightFen)}）`,
      named.length ? 'item' : 'Invoice.totalNet',
    );
  }
  if (amountFen <= 0) throw stateConflict('所选项目的金额为 0，无需退费', 'item');

  const sequence = Math.max(0, ...tasks.map((t) => refundSequenceOf(outRefundNoOf(t)))) + 1;
  const number = outRefundNo(outTradeNo, sequence);
  const now = new Date().toISOString();
  const draft: Task = {
    resourceType: 'Task',
    identifier: [{ system: OUT_REFUND_NO_SYSTEM, value: number }],
    status: 'requested',
    intent: 'order',
    code: REFUND_TASK_CODE,
    businessStatus: refundBusinessStatus('awaiting-approval'),
    description: `退费 ${yuan(amountFen)}`,
    focus: { reference: `Invoice/${invoice.id}` },
    ...(invoice.subject ? { for: invoice.subject } : {}),
    requester: r.requester,
    authoredOn: now,
    lastModified: now,
    input: refundInputs(chosen.map((c): Reference => ({ reference: c.reference })), r.reason.trim(), amountFen),
  };
  // Two requests racing for one Invoice compute the same number; the store serialises the condition, so the
  // second finds the first's Task instead of adding a second claim on the same money.
  const written = await elevated.create(draft, { ifNoneExist: `identifier=${encodeURIComponent(`${OUT_REFUND_NO_SYSTEM}|${number}`)}` });
  if (!written.created) throw stateConflict('此账单刚刚有另一笔退费申请，请刷新后重试', 'Invoice');
  log.info('refund requested', { task: `Task/${written.resource.id}`, invoice: `Invoice/${invoice.id}`, outRefundNo: number, refundFen: amountFen, items: chosen.length, by: r.by });
  return written.resource;
}

function amountOf(lineFen: number, item: ChargeItem): number {
  return lineFen >= 0 ? lineFen : fenOf(item.priceOverride) ?? 0;
}

function requesterOf(caller: OperationCaller): NonNullable<Task['requester']> {
  const who = caller.patient ?? caller.practitioner ?? caller.reference;
  return REQUESTER_TYPES.test(who) ? { reference: who } as NonNullable<Task['requester']> : { display: `${caller.role}:${who}` };
}

async function invoiceOfCaller(repo: Repository, elevated: Repository, id: string): Promise<Invoice> {
  try {
    return await repo.read<Invoice>('Invoice', id);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError) || getStatus(err.outcome) !== 404) throw err;
  }
  const exists = await elevated.read<Invoice>('Invoice', id).catch(() => undefined);
  if (!exists) throw notFoundHere(`账单 Invoice/${id} 不存在`, 'Invoice.id');
  throw notYours(`账单 Invoice/${id} 不是您的账单，不能为他人申请退费`, 'Invoice.subject');
}
