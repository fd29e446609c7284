import { OperationOutcomeError, getStatus, isGone, isNotFound, parseSearchRequest } from '@medplum/core';
import type { MedicationDispense, MedicationRequest, Organization, Task } from '@medplum/fhirtypes';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { CIRCULATION_RX_NO_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import type { Repository } from '../../fhir-resources/store/repository';
import type { CirculationEvent } from '../../mappings/circulation/circulation-transitions';

/**
 * What a circulation event is about: the Task by reference, or (a pharmacy callback) by the rxNo sent and the caller's
 * appId. `more` are further events applied in the same write (expiry withdraws all of a Task's prescriptions at once).
 */
export interface TaskEventWrite {
  task?: string;
  rxNo?: string;
  appId?: string;
  event: CirculationEvent;
  more?: CirculationEvent[];
}

export type CirculationTransition = (task: Task, event: CirculationEvent, prescriptions: MedicationRequest[]) => { task?: Task; dispenses: MedicationDispense[] };

/** Writes by the circulation channels carry this correlation prefix, so the outbound channel ignores changes it caused. */
const CIRCULATION_WRITE = 'circulation:';

export function isCirculationWrite(correlationId: string | undefined): boolean {
  return correlationId?.startsWith(CIRCULATION_WRITE) === true;
}

const LOST_RACES_TOLERATED = 5;

class NotOwned extends Error {}

const log = childLogger({ component: 'circulation-task-writer' });

export interface CirculationTaskWriterOptions {
  repository: () => Repository;
  transition: CirculationTransition;
  /** May the caller with this appId report on prescriptions this pharmacy owns? (A pharmacy speaks for its own only.) */
  owns?: (owner: Organization | undefined, appId: string) => boolean;
}

const missing = (err: unknown) => err instanceof OperationOutcomeError && (isGone(err.outcome) || isNotFound(err.outcome));

/**
 * Applies a circulation event to its Task: reads the Task and its MedicationRequests, asks the (pure) transition for
 * the next version and the 核销 MedicationDispenses, and writes them in one transaction guarded by the version read
 * (If-Match), re-reading after a lost race. The transition returns nothing for an event already applied, which is
 * what makes a callback delivered twice a no-op.
 */
export class CirculationTaskWriter {
  constructor(private readonly o: CirculationTaskWriterOptions) {}

  /**
   * `prefix`: the circulation channels' own prefix unless the write is a decision the outbound channel must act on
   * (expiry cancels the Task, and the undo at the peer follows from that change like a refund's).
   */
  async apply(write: TaskEventWrite, correlationId: string, prefix = CIRCULATION_WRITE): Promise<string> {
    const repo = this.o.repository().withContext({ correlationId: `${prefix}${correlationId}` });
    for (let attempt = 1; ; attempt++) {
      let task: Task;
      try {
        task = await this.locate(repo, write);
      } catch (err) {
        // Recorded as the message's answer, not retried: no later attempt makes another pharmacy's report ours.
        if (err instanceof NotOwned) {
          log.warn('circulation report from a pharmacy about another pharmacy\'s prescription ignored', { rxNo: write.rxNo, appId: write.appId, correlationId });
          return err.message;
        }
        throw err;
      }
      const prescriptions: MedicationRequest[] = [];
      for (const b of task.basedOn ?? []) {
        const [type, id] = (b.reference ?? '').split('/');
        if (type !== 'MedicationRequest' || !id) continue;
        try {
          prescriptions.push(await repo.read<MedicationRequest>('MedicationRequest', id));
        } catch (err) {
          if (!missing(err)) throw err;
        }
      }
      let next: Task | undefined;
      const dispenses: MedicationDispense[] = [];
      for (const event of [write.event, ...(write.more ?? [])]) {
        const result = this.o.transition(next ?? task, event, prescriptions);
        next = result.task ?? next;
        dispenses.push(...result.dispenses);
      }
      if (!next && !dispenses.length) return `Task/${task.id}: ${write.event.kind} changes nothing (already recorded)`;
      try {
        await repo.transaction(async (tx) => {
          if (next) await tx.update(next, { ifMatch: task.meta?.versionId });
          for (const d of dispenses) {
            const key = d.identifier?.[0];
            await tx.create(d, key ? { ifNoneExist: `identifier=${key.system}|${key.value}` } : undefined);
          }
        });
      } catch (err) {
        if (!(err instanceof OperationOutcomeError && getStatus(err.outcome) === 412) || attempt >= LOST_RACES_TOLERATED) throw err;
        continue;
      }
      const shown = next ? `${next.status}/${next.businessStatus?.coding?.[0]?.code ?? ''}` : 'unchanged';
      return `Task/${task.id}: ${write.event.kind} → ${shown}${dispenses.length ? `, ${dispenses.length} MedicationDispense` : ''}`;
    }
  }

  private async locate(repo: Repository, write: TaskEventWrite): Promise<Task> {
    if (write.task) {
      const [type, id] = write.task.split('/');
      if (type !== 'Task' || !id) throw new Error(`not a Task reference: ${write.task}`);
      return repo.read<Task>('Task', id);
    }
    if (!write.rxNo) throw new Error('a circulation event names neither a Task nor an rxNo');
    const found = await repo.search(parseSearchRequest('Task', { identifier: `${CIRCULATION_RX_NO_SYSTEM}|${write.rxNo}`, _sort: '-_lastUpdated', _count: '10' }));
    const tasks = found.resources as Task[];
    // A prescription refunded and paid again has a cancelled Task and a new one under the same number: the live one wins.
    const task = tasks.find((t) => t.status !== 'cancelled') ?? tasks[0];
    // Thrown, so retried: the callback can overtake the write that records the upload's answer.
    if (!task) throw new Error(`no circulation Task with rxNo ${write.rxNo} (yet)`);
    if (write.appId && this.o.owns) {
      const [, ownerId] = (task.owner?.reference ?? '').split('/');
      const owner = ownerId ? await repo.read<Organization>('Organization', ownerId).catch((err) => { if (missing(err)) return undefined; throw err; }) : undefined;
      if (!this.o.owns(owner, write.appId)) throw new NotOwned(`appId ${write.appId} reported on rxNo ${write.rxNo}, which Task/${task.id} sent to another pharmacy: ignored`);
    }
    return task;
  }
}

/** The destination of the channels that bring circulation news back: each message is a TaskEventWrite. */
export function circulationTaskDestination(writer: CirculationTaskWriter): DestinationConnector {
  return {
    type: 'circulation-task',
    async send(message: OutboundMessage) {
      const write = JSON.parse(message.content) as TaskEventWrite;
      if (!write?.event?.kind) throw new Error('expected { task | rxNo, event } from the transformer');
      return { response: await writer.apply(write, message.correlationId) };
    },
  };
}
