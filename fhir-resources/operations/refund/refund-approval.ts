import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { Annotation, ChargeItem, Invoice, OperationOutcome, Reference, Task } from '@medplum/fhirtypes';
import { childLogger } from '../../../engine/logger';
import { REFUND_STATUS } from '../../billing/billing-vocabulary';
import type { Repository } from '../../store/repository';
import { code, many, operation, optional, parts, ref, resource, string, type OperationCaller, type OperationContext } from '../operation';
import { badInput, notFoundHere, stateConflict } from '../workflow-outcomes';
import { cancelCirculationFor } from './circulation-cancel';
import { circulationTasksOf, invoiceRefunds, refundTasksOf, refusalOf, yuan } from './refundable-items';
import { channelOf, sendRefund, type RefundChannels } from './refund-sending';
import { businessStatusOf, isRefundTask, refundAmountOf, refundBusinessStatus, refundItemsOf } from './refund-task';
import { changeVersioned } from './versioned-change';

const log = childLogger({ component: 'refunds' });

/** The batch answer: one `result` per Task named, in the order named. */
const output = {
  result: many(parts({
    task: ref<Task>('Task'),
    status: optional(code({ documentation: 'Task.status after the call' })),
    businessStatus: optional(code({ documentation: '退费状态 (REFUND_STATUS) after the call' })),
    outcome: resource<OperationOutcome>('OperationOutcome', { documentation: 'what was done, or why nothing was' }),
  })),
};
type Result = { task: Reference<Task>; status: string | undefined; businessStatus: string | undefined; outcome: OperationOutcome };

const parameters = {
  task: many(ref<Task>('Task'), { min: 1 }),
  note: optional(string({ documentation: '审核意见；驳回时必填' })),
};

function outcome(severity: 'information' | 'error', code: 'informational' | 'exception', text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics: text, details: { text } }] };
}
/** What an approval or rejection did to one Task. */
const done = (text: string) => outcome('information', 'informational', text);

const taskIdOf = (r: Reference): string | undefined => /(?:^|\/)Task\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(r.reference ?? '')?.[1];

function annotation(caller: OperationCaller, text: string): Annotation {
  return { time: new Date().toISOString(), authorString: caller.reference, text };
}

function resultOf(task: Task, outcome: OperationOutcome): Result {
  return { task: { reference: `Task/${task.id}` }, status: task.status, businessStatus: businessStatusOf(task), outcome };
}

const stateText = (task: Task): string => REFUND_STATUS[businessStatusOf(task) as keyof typeof REFUND_STATUS] ?? task.status;

/**
 * Runs `decide` for each named Task and gathers one result each: a refusal of one Task (not found, already decided,
 * no longer refundable) is its result, not the batch's failure.
 */
async function forEachTask(repo: Repository, tasks: Reference<Task>[], decide: (task: Task) => Promise<Result>): Promise<Result[]> {
  const results: Result[] = [];
  for (const r of tasks) {
    const id = taskIdOf(r);
    try {
      if (!id) throw badInput(`${r.reference ?? '(空)'} 不是 Task 引用`, 'task');
      const task = await repo.read<Task>('Task', id).catch((err: unknown) => {
        if (err instanceof OperationOutcomeError && [404, 410].includes(getStatus(err.outcome))) throw notFoundHere(`退费申请 Task/${id} 不存在`, 'task');
        throw err;
      });
      if (!isRefundTask(task)) throw badInput(`Task/${id} 不是退费申请`, 'task');
      results.push(await decide(task));
    } catch (err) {
      if (!(err instanceof OperationOutcomeError)) throw err;
      results.push({ task: { reference: id ? `Task/${id}` : r.reference ?? '' }, status: undefined, businessStatus: undefined, outcome: err.outcome });
    }
  }
  return results;
}

/** The items of a requested Task may have been dispensed or performed since the request: looked at again. */
async function stillRefundable(repo: Repository, task: Task, invoice: Invoice): Promise<void> {
  const others = (await refundTasksOf(repo, invoice.id!)).filter((t) => t.id !== task.id);
  const refunds = invoiceRefunds(invoice, others);
  const circulation = await circulationTasksOf(repo, invoice.id!);
  for (const ref of refundItemsOf(task)) {
    const item = await repo.read<ChargeItem>('ChargeItem', ref.split('/')[1]);
    const refusal = await refusalOf(repo, item, ref, refunds, circulation);
    if (refusal) throw stateConflict(`${refusal}（申请之后状态已变化），请驳回此申请`, 'task');
  }
  const amountFen = refundAmountOf(task);
  if (amountFen > refunds.leftFen) {
    throw stateConflict(`退费金额 ${yuan(amountFen)}超过此账单现在可退的 ${yuan(Math.max(0, refunds.leftFen))}（申请之后已有其他退费），请驳回此申请`, 'task');
  }
}

/** Channels that gave no answer earlier in this batch: the rest of it is left to the active query, not waited on. */
type Silent = Set<string>;

async function approve(context: OperationContext, channels: RefundChannels, note: string | undefined, silent: Silent, task: Task): Promise<Result> {
  const repo = context.elevated;
  // The claim on the refund commits before the channel is called: of two approvals only one moves the Task out of
  // `requested` (If-Match), and only that one calls the channel. The call then holds no database connection; a crash
  // after the commit leaves the Task 退款中 for the active query, which sends the refund the channel never got.
  const { claimed, invoice } = await repo.transaction(async (trx) => {
    const bill = await trx.read<Invoice>('Invoice', task.focus?.reference?.split('/')[1] ?? '');
    if (task.status === 'requested') await stillRefundable(trx, task, bill);
    const claim = await changeVersioned<Task>(trx, 'Task', task.id!, (current) => current.status !== 'requested' ? undefined : {
      ...current,
      status: 'in-progress',
      businessStatus: refundBusinessStatus('refunding'),
      lastModified: new Date().toISOString(),
      note: [...(current.note ?? []), annotation(context.caller, note ? `批准退费：${note}` : '批准退费')],
    });
    if (!claim.changed) throw stateConflict(`退费申请 Task/${task.id} 已处理（${stateText(claim.resource)}），未重复退款`, 'task');
    await cancelCirculationFor(trx, claim.resource, bill.id!);
    return { claimed: claim.resource, invoice: bill };
  });
  const channel = channelOf(invoice) ?? '';
  if (silent.has(channel)) return resultOf(claimed, done('已批准；支付渠道暂未应答，系统将自动发起并查询退款'));
  const sent = await sendRefund(repo, channels, claimed, invoice);
  if (sent.kind === 'unanswered') silent.add(channel);
  log.info('refund approved', { task: `Task/${task.id}`, by: context.caller.reference, sent: sent.kind });
  if (sent.kind === 'refused') return resultOf(sent.task, outcome('error', 'exception', sent.reason));
  if (sent.kind === 'unanswered') return resultOf(sent.task, done('已批准；支付渠道暂未应答，系统将自动查询退款结果'));
  return resultOf(sent.task, done(`已批准，${stateText(sent.task)}`));
}

async function reject(context: OperationContext, note: string, task: Task): Promise<Result> {
  const { resource, changed } = await changeVersioned<Task>(context.elevated, 'Task', task.id!, (current) => current.status !== 'requested' ? undefined : {
    ...current,
    status: 'rejected',
    businessStatus: refundBusinessStatus('rejected'),
    statusReason: { text: note },
    lastModified: new Date().toISOString(),
    note: [...(current.note ?? []), annotation(context.caller, `驳回退费：${note}`)],
  });
  if (!changed) throw stateConflict(`退费申请 Task/${task.id} 已处理（${stateText(resource)}），不能驳回`, 'task');
  log.info('refund rejected', { task: `Task/${task.id}`, by: context.caller.reference });
  return resultOf(resource, done('已驳回'));
}

/**
 * `POST /fhir/Task/$approve-refund` (operators and admins, access-policy.ts): each named refund Task 待审核 → 退款中,
 * and the Invoice's payment channel is asked to refund it; its answer, notification or the active query then ends it.
 */
export function approveRefundOperation(channels: RefundChannels) {
  return operation({
    name: 'approve-refund',
    level: 'type',
    resourceType: 'Task',
    description: '批准退费（可批量）：原路退回，结果由支付渠道通知或主动查询确定',
    // Each Task is claimed in a transaction of its own and the channel called after it commits (see approve).
    transaction: 'own',
    parameters,
    output,
    async run(_repo, p, context) {
      const silent: Silent = new Set();
      return { result: await forEachTask(context.elevated, p.task, (task) => approve(context, channels, p.note?.trim() || undefined, silent, task)) };
    },
  });
}

/** `POST /fhir/Task/$reject-refund`: each named refund Task 待审核 → 已驳回 with the note (required) as the reason. */
export function rejectRefundOperation() {
  return operation({
    name: 'reject-refund',
    level: 'type',
    resourceType: 'Task',
    description: '驳回退费申请（可批量），需填写驳回原因',
    parameters,
    output,
    async run(_repo, p, context) {
      const note = p.note?.trim();
      if (!note) throw badInput('驳回退费申请需填写原因（note）', 'note');
      return { result: await forEachTask(context.elevated, p.task, (task) => reject(context, note, task)) };
    },
  });
}
