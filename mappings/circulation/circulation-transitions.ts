import type { CodeableConcept, MedicationDispense, MedicationRequest, Task } from '@medplum/fhirtypes';
import {
  CIRCULATION_OUTPUT_SYSTEM, CIRCULATION_RX_NO_SYSTEM, CIRCULATION_STATUS, TASK_BUSINESS_STATUS_SYSTEM, type CirculationStatus,
} from '../../fhir-resources/billing/billing-vocabulary';
import { pickupDispenses } from './pickup-dispenses';

/** A drug as the pharmacy reports it at 核销: what was handed over, with its 追溯码 and lot when scanned. */
export interface DispensedDrug {
  code: string;
  name?: string;
  quantity: number;
  unit?: string;
  /** 药品追溯码 */
  traceCode?: string;
  lot?: string;
}

/** The numbers a peer answered with, kept on the Task as outputs (hi-rxno, rx-trace-code, pharmacy-order-id). */
export type PeerNumbers = Partial<Record<'hi-rxno' | 'rx-trace-code' | 'pharmacy-order-id', string>>;

/**
 * What happened to a circulated prescription, whoever reported it (the upload's answer, the platform's 审方 / 取药
 * queries, the pharmacy's callbacks, an undo). `at` is when it happened, as the peer says.
 */
export type CirculationEvent =
  /** A step of the upload succeeded (预核验): its numbers are recorded, the state does not move yet. */
  | { kind: 'checked'; at: string; rxNo: string; numbers: PeerNumbers }
  /** The peer holds the prescription now (platform 上传 done, pharmacy received it). */
  | { kind: 'circulated'; at: string; rxNo: string; numbers: PeerNumbers }
  /** The peer refused the upload itself (a content error): circulation failed and needs a person. */
  | { kind: 'refused'; at: string; note: string }
  | { kind: 'approved'; at: string; note?: string }
  | { kind: 'rejected'; at: string; note: string }
  /** 备药完成: the drugs wait at the counter. */
  | { kind: 'awaiting-pickup'; at: string }
  | { kind: 'picked-up'; at: string; pharmacy?: string; drugs: DispensedDrug[] }
  | { kind: 'cancelled'; at: string; note?: string }
  /** The undo was refused (already dispensed): said in a note, the state stays. */
  | { kind: 'cancel-refused'; at: string; note: string };

export interface TransitionResult {
  /** The Task's next version, or undefined when the event changes nothing (already applied, or overtaken). */
  task?: Task;
  /** 核销 only: one completed MedicationDispense per MedicationRequest. */
  dispenses: MedicationDispense[];
}

/** How far along each business state is; an event only moves a Task forward, which makes every event idempotent. */
const RANK: Record<CirculationStatus, number> = {
  'pending-review': 0, circulated: 1, approved: 2, delivering: 3, 'awaiting-pickup': 3, rejected: 4, expired: 4, 'picked-up': 5, cancelled: 5,
};

export function businessStatusOf(task: Task): CirculationStatus | undefined {
  const code = task.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS_SYSTEM)?.code;
  return code && code in CIRCULATION_STATUS ? (code as CirculationStatus) : undefined;
}

export function businessStatus(code: CirculationStatus): CodeableConcept {
  return { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code, display: CIRCULATION_STATUS[code] }], text: CIRCULATION_STATUS[code] };
}

/** A number the peer answered with, from the Task's outputs. */
export function taskOutput(task: Task, code: keyof PeerNumbers): string | undefined {
  return task.output?.find((o) => o.type?.coding?.some((c) => c.system === CIRCULATION_OUTPUT_SYSTEM && c.code === code))?.valueString;
}

function withNumbers(task: Task, rxNo: string, numbers: PeerNumbers): Task {
  const next: Task = { ...task };
  if (!task.identifier?.some((i) => i.system === CIRCULATION_RX_NO_SYSTEM && i.value === rxNo)) {
    next.identifier = [...(task.identifier ?? []), { system: CIRCULATION_RX_NO_SYSTEM, value: rxNo }];
  }
  const outputs = [...(task.output ?? [])];
  for (const [code, value] of Object.entries(numbers) as [keyof PeerNumbers, string | undefined][]) {
    if (!value || taskOutput(task, code) === value) continue;
    const at = outputs.findIndex((o) => o.type?.coding?.some((c) => c.system === CIRCULATION_OUTPUT_SYSTEM && c.code === code));
    const output = { type: { coding: [{ system: CIRCULATION_OUTPUT_SYSTEM, code }] }, valueString: value };
    if (at >= 0) outputs[at] = output;
    else outputs.push(output);
  }
  if (outputs.length) next.output = outputs;
  return next;
}

function moved(task: Task, to: CirculationStatus, status: Task['status'], at: string): Task {
  // A Task the refund workflow cancelled stays cancelled: what the peer reports is recorded, the decision is not undone.
  const keep = task.status === 'cancelled' && status !== 'completed';
  return { ...task, status: keep ? task.status : status, businessStatus: businessStatus(to), lastModified: at };
}

function noted(task: Task, text: string, at: string): Task | undefined {
  if (task.note?.some((n) => n.text === text)) return undefined;
  return { ...task, note: [...(task.note ?? []), { time: at, text }], lastModified: at };
}

/**
 * The Task (and, at 核销, the MedicationDispenses) after an event. FHIR Task.status carries the workflow's view,
 * businessStatus the circulation state (README.md beside billing-vocabulary.ts has the table): in-progress while
 * the prescription is at the peer, rejected on 审方驳回, failed when the upload was refused, completed at 核销.
 */
export function applyCirculationEvent(task: Task, event: CirculationEvent, prescriptions: MedicationRequest[]): TransitionResult {
  const none: TransitionResult = { dispenses: [] };
  const current = businessStatusOf(task) ?? 'pending-review';
  const rank = RANK[current];
  const terminal = rank >= 4;
  switch (event.kind) {
    case 'checked': {
      const next = withNumbers(task, event.rxNo, event.numbers);
      return JSON.stringify(next) === JSON.stringify(task) ? none : { task: next, dispenses: [] };
    }
    case 'circulated': {
      if (current !== 'pending-review' || task.status === 'failed') {
        const next = withNumbers(task, event.rxNo, event.numbers);
        return JSON.stringify(next) === JSON.stringify(task) ? none : { task: next, dispenses: [] };
      }
      return { task: moved(withNumbers(task, event.rxNo, event.numbers), 'circulated', 'in-progress', event.at), dispenses: [] };
    }
    case 'refused': {
      if (current !== 'pending-review' || task.status === 'failed' || task.status === 'cancelled') return none;
      return { task: { ...moved(task, 'pending-review', 'failed', event.at), statusReason: { text: event.note }, note: [...(task.note ?? []), { time: event.at, text: `处方流转失败：${event.note}` }] }, dispenses: [] };
    }
    case 'approved':
    case 'awaiting-pickup': {
      const to = event.kind;
      if (terminal || rank >= RANK[to]) return none;
      const next = moved(task, to, 'in-progress', event.at);
      return { task: event.kind === 'approved' && event.note ? { ...next, note: [...(task.note ?? []), { time: event.at, text: `审方意见：${event.note}` }] } : next, dispenses: [] };
    }
    case 'rejected': {
      if (terminal) return none;
      return { task: { ...moved(task, 'rejected', 'rejected', event.at), statusReason: { text: event.note }, note: [...(task.note ?? []), { time: event.at, text: `审方驳回：${event.note}` }] }, dispenses: [] };
    }
    case 'picked-up': {
      if (current === 'picked-up') return none;
      return { task: moved(task, 'picked-up', 'completed', event.at), dispenses: pickupDispenses(task, event, prescriptions) };
    }
    case 'cancelled': {
      if (current === 'cancelled' || current === 'picked-up') return none;
      const next = moved(task, 'cancelled', 'cancelled', event.at);
      return { task: event.note ? { ...next, note: [...(task.note ?? []), { time: event.at, text: event.note }] } : next, dispenses: [] };
    }
    case 'cancel-refused': {
      const next = noted(task, `撤销失败：${event.note}`, event.at);
      return next ? { task: next, dispenses: [] } : none;
    }
  }
}
