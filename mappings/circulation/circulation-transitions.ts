import type { CodeableConcept, MedicationDispense, MedicationRequest, Task, TaskOutput } from '@medplum/fhirtypes';
import {
  CIRCULATION_OUTPUT_SYSTEM, CIRCULATION_RX_NO_SYSTEM, CIRCULATION_STATUS, PRESCRIPTION_NO_SYSTEM, TASK_BUSINESS_STATUS_SYSTEM, type CirculationStatus,
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

/** The numbers a peer answered with for one prescription, kept on the Task as outputs. */
export type PeerNumbers = Partial<Record<'hi-rxno' | 'rx-trace-code' | 'pharmacy-order-id', string>>;

/**
 * What happened to one circulated prescription (处方号 `rxNo`), whoever reported it: the upload's answer, the
 * platform's 审方 / 取药 queries, the pharmacy's callbacks, an undo. `at` is when it happened, as the peer says.
 */
export type CirculationEvent = { rxNo: string; at: string } & (
  /** A step of the upload succeeded (预核验): its numbers are recorded, the state does not move yet. */
  | { kind: 'checked'; numbers: PeerNumbers }
  /** The peer holds the prescription now (platform 上传 done, pharmacy received it). */
  | { kind: 'circulated'; numbers: PeerNumbers }
  /** The peer refused the upload itself (a content error): circulation failed and needs a person. */
  | { kind: 'refused'; note: string }
  | { kind: 'approved'; note?: string }
  | { kind: 'rejected'; note: string }
  /** 备药完成: the drugs wait at the counter. */
  | { kind: 'awaiting-pickup' }
  /** 配送中: a delivery order left the pharmacy with the courier. */
  | { kind: 'delivering' }
  /** Not picked up within its validity: the hospital withdraws it (and undoes it at the peer, refunds the patient). */
  | { kind: 'expired'; note: string }
  | { kind: 'picked-up'; pharmacy?: string; drugs: DispensedDrug[] }
  | { kind: 'cancelled'; note?: string }
  /** The undo was refused (already dispensed): said in a note, the state stays. */
  | { kind: 'cancel-refused'; note: string });

export interface TransitionResult {
  /** The Task's next version, or undefined when the event changes nothing (already applied, or overtaken). */
  task?: Task;
  /** 核销 only: one completed MedicationDispense per MedicationRequest of that prescription. */
  dispenses: MedicationDispense[];
}

/**
 * How far along each state is. A prescription only moves forward, which makes every event idempotent; the Task shows
 * the least advanced of its prescriptions, so it is done only when all of them are.
 */
const RANK: Record<CirculationStatus, number> = {
  'pending-review': 0, circulated: 1, approved: 2, 'awaiting-pickup': 3, delivering: 4, rejected: 5, expired: 5, 'picked-up': 6, cancelled: 7,
};
const TERMINAL = 5;

type OutputCode = keyof PeerNumbers | 'rx-status';

export function businessStatusOf(task: Task): CirculationStatus | undefined {
  const code = task.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS_SYSTEM)?.code;
  return code && code in CIRCULATION_STATUS ? (code as CirculationStatus) : undefined;
}

export function businessStatus(code: CirculationStatus): CodeableConcept {
  return { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code, display: CIRCULATION_STATUS[code] }], text: CIRCULATION_STATUS[code] };
}

const isOutput = (o: TaskOutput, code: OutputCode, rxNo: string) =>
  o.type?.text === rxNo && o.type?.coding?.some((c) => c.system === CIRCULATION_OUTPUT_SYSTEM && c.code === code) === true;

/** A number the peer answered with for prescription `rxNo` (Task.output, type.text = the 处方号). */
export function taskOutput(task: Task, code: keyof PeerNumbers, rxNo: string): string | undefined {
  return task.output?.find((o) => isOutput(o, code, rxNo))?.valueString;
}

/** Where one prescription of the Task stands; pending-review until something was recorded for it. */
export function prescriptionState(task: Task, rxNo: string): CirculationStatus {
  const code = task.output?.find((o) => isOutput(o, 'rx-status', rxNo))?.valueCode;
  return code && code in CIRCULATION_STATUS ? (code as CirculationStatus) : 'pending-review';
}

/** The prescriptions the Task's circulation is known under (its identifiers), e.g. for the platform poll. */
export function circulatedNumbers(task: Task): string[] {
  return (task.identifier ?? []).filter((i) => i.system === CIRCULATION_RX_NO_SYSTEM && i.value).map((i) => i.value!);
}

function withOutput(task: Task, code: OutputCode, rxNo: string, value: { valueString: string } | { valueCode: string }): Task {
  const output: TaskOutput = { type: { coding: [{ system: CIRCULATION_OUTPUT_SYSTEM, code }], text: rxNo }, ...value };
  const outputs = [...(task.output ?? [])];
  const at = outputs.findIndex((o) => isOutput(o, code, rxNo));
  if (at >= 0) outputs[at] = output;
  else outputs.push(output);
  return { ...task, output: outputs };
}

function withNumbers(task: Task, rxNo: string, numbers: PeerNumbers): Task {
  let next = task;
  if (!circulatedNumbers(task).includes(rxNo)) next = { ...next, identifier: [...(task.identifier ?? []), { system: CIRCULATION_RX_NO_SYSTEM, value: rxNo }] };
  for (const [code, value] of Object.entries(numbers) as [keyof PeerNumbers, string | undefined][]) {
    if (value && taskOutput(next, code, rxNo) !== value) next = withOutput(next, code, rxNo, { valueString: value });
  }
  return next;
}

function noted(task: Task, text: string, at: string): Task {
  return { ...task, note: [...(task.note ?? []), { time: at, text }] };
}

/** The prescription numbers the Task covers: its MedicationRequests' 处方号, and those it was circulated under. */
function numbersOf(task: Task, prescriptions: MedicationRequest[]): string[] {
  const fromRequests = prescriptions.map((r) => (r.groupIdentifier?.system === PRESCRIPTION_NO_SYSTEM ? r.groupIdentifier.value : undefined));
  return [...new Set([...fromRequests, ...circulatedNumbers(task)].filter((n): n is string => Boolean(n)))];
}

/**
 * The Task's status and businessStatus from its prescriptions' states (README.md beside billing-vocabulary.ts has
 * the table): in-progress while at the peer, rejected on 审方驳回, completed at 核销, cancelled once expired. A Task the
 * refund workflow cancelled, or whose upload was refused (failed), keeps that status: the peers' news is recorded, the
 * decision stays.
 */
function settled(task: Task, numbers: string[], at: string): Task {
  const states = numbers.map((n) => prescriptionState(task, n)).sort((a, b) => RANK[a] - RANK[b]);
  const least = states[0] ?? 'pending-review';
  const started = states.some((st) => st !== 'pending-review');
  const wanted: Task['status'] = least === 'pending-review' ? (started ? 'in-progress' : task.status) : least === 'picked-up' ? 'completed' : least === 'cancelled' || least === 'expired' ? 'cancelled' : least === 'rejected' ? 'rejected' : 'in-progress';
  const keep = (task.status === 'cancelled' || task.status === 'failed') && wanted !== 'completed';
  const status = keep ? task.status : wanted;
  if (status === task.status && businessStatusOf(task) === least) return task;
  return { ...task, status, businessStatus: businessStatus(least), lastModified: at };
}

/** The Task (and, at 核销, the MedicationDispenses) after an event; nothing when the event was already applied. */
export function applyCirculationEvent(task: Task, event: CirculationEvent, prescriptions: MedicationRequest[]): TransitionResult {
  const { rxNo, at } = event;
  const current = prescriptionState(task, rxNo);
  const rank = RANK[current];
  let next = task;
  let dispenses: MedicationDispense[] = [];
  const move = (to: CirculationStatus) => { next = withOutput(next, 'rx-status', rxNo, { valueCode: to }); };
  switch (event.kind) {
    case 'checked':
      next = withNumbers(task, rxNo, event.numbers);
      break;
    case 'circulated':
      next = withNumbers(task, rxNo, event.numbers);
      if (current === 'pending-review') move('circulated');
      break;
    case 'refused':
      if (current !== 'pending-review' || task.status === 'failed' || task.status === 'cancelled') break;
      next = { ...noted(task, `处方流转失败（处方 ${rxNo}）：${event.note}`, at), status: 'failed', statusReason: { text: event.note }, lastModified: at };
      break;
    case 'approved':
    case 'awaiting-pickup':
    case 'delivering':
      if (rank >= TERMINAL || rank >= RANK[event.kind]) break;
      move(event.kind);
      if (event.kind === 'approved' && event.note) next = noted(next, `审方意见（处方 ${rxNo}）：${event.note}`, at);
      break;
    case 'rejected':
      if (rank >= TERMINAL) break;
      move('rejected');
      next = { ...noted(next, `审方驳回（处方 ${rxNo}）：${event.note}`, at), statusReason: { text: event.note } };
      break;
    case 'picked-up': {
      if (current === 'picked-up') break;
      move('picked-up');
      const ofThis = prescriptions.filter((r) => r.groupIdentifier?.system === PRESCRIPTION_NO_SYSTEM && r.groupIdentifier.value === rxNo);
      dispenses = pickupDispenses(task, event, ofThis);
      break;
    }
    case 'expired':
      if (rank >= TERMINAL || current === 'pending-review' || current === 'delivering') break;
      move('expired');
      next = { ...noted(next, `处方 ${rxNo} ${event.note}`, at), statusReason: { text: event.note } };
      break;
    case 'cancelled':
      // An expired prescription stays expired: the undo that follows is what expiry asked for.
      if (current === 'cancelled' || current === 'picked-up' || current === 'expired') break;
      move('cancelled');
      if (event.note) next = noted(next, event.note, at);
      break;
    case 'cancel-refused': {
      const text = `撤销失败（处方 ${rxNo}）：${event.note}`;
      if (!task.note?.some((n) => n.text === text)) next = noted(task, text, at);
      break;
    }
  }
  if (next === task) return { dispenses: [] };
  next = settled(next, numbersOf(next, prescriptions), at);
  return { task: { ...next, lastModified: at }, dispenses };
}
