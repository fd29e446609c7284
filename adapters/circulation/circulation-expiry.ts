import type { MedicationRequest, Organization, Task } from '@medplum/fhirtypes';
import type { DestinationConnector, OutboundMessage, SourceConnector, SourceContext } from '../../engine/channel/channel';
import type { Repository } from '../../fhir-resources/store/repository';
import type { CirculationEvent } from '../../mappings/circulation/circulation-transitions';
import type { CirculationTaskWriter } from './circulation-task-writer';
import { tasksInFlight } from './tasks-in-flight';

/** The Task whose prescriptions `rxNos` passed their validity (found by the expiry run). */
export interface ExpiredCirculation {
  task: string;
  rxNos: string[];
  at: string;
}

export interface OverdueCirculationsOptions {
  cron: string;
  repository: () => Repository;
  /** The search (query parameters on Task) that finds the Tasks in flight. */
  inFlight: Record<string, string>;
  /** The Task's prescriptions (处方号) whose validity at the pharmacy `owner` ended before `now`. */
  overdue: (task: Task, prescriptions: MedicationRequest[], owner: Organization | undefined, now: number) => string[];
}


/** On the schedule, each Task in flight with a prescription past its validity becomes a message. */
export function overdueCirculations(o: OverdueCirculationsOptions): SourceConnector {
  return {
    type: 'circulation-expiry',
    async start(ctx: SourceContext) {
      ctx.schedule(o.cron, async () => {
        if (!ctx.accepting()) return;
        const repo = o.repository();
        for await (const { task, owner } of tasksInFlight(repo, o.inFlight)) {
          const prescriptions: MedicationRequest[] = [];
          for (const b of task.basedOn ?? []) {
            const [type, id] = (b.reference ?? '').split('/');
            if (type === 'MedicationRequest' && id) prescriptions.push(...await repo.read<MedicationRequest>('MedicationRequest', id).then((r) => [r], () => []));
          }
          const rxNos = o.overdue(task, prescriptions, owner, Date.now());
          const expired: ExpiredCirculation = { task: `Task/${task.id}`, rxNos, at: new Date().toISOString() };
          if (rxNos.length) await ctx.accept({ content: JSON.stringify(expired), contentType: 'application/json' });
        }
      });
    },
    async stop() {
      // The engine unschedules the channel's jobs on undeploy.
    },
  };
}

export interface CirculationExpiryOptions {
  repository: () => Repository;
  writer: CirculationTaskWriter;
  /** Correlation prefix of the expiry's write: not the circulation channels' own, so the undo at the peer follows. */
  prefix: string;
  /** Which of these prescriptions the Task now shows as expired. */
  expiredOf: (task: Task, rxNos: string[]) => string[];
  /** Asks for the refund of the expired prescriptions' drugs (idempotent: drugs already asked for are left out). */
  refund: (repo: Repository, task: Task, rxNos: string[]) => Promise<string>;
}

const NOTE = '已过期：超过有效期未取药，撤销流转并申请退费';

/**
 * Expires the prescriptions (businessStatus expired, the Task cancelled, written so that the circulation channel
 * undoes them at the peer), then asks for the refund of those the Task shows expired. Repeating a message repeats
 * nothing: the expiry is a forward-only state, the refund request leaves out drugs already asked for.
 */
export function circulationExpiry(o: CirculationExpiryOptions): DestinationConnector {
  return {
    type: 'circulation-expiry',
    async send(message: OutboundMessage) {
      const { task: ref, rxNos, at } = JSON.parse(message.content) as ExpiredCirculation;
      if (!ref || !rxNos?.length) throw new Error('expected { task, rxNos } from the expiry run');
      const [first, ...more] = rxNos.map((rxNo): CirculationEvent => ({ kind: 'expired', rxNo, at, note: NOTE }));
      const written = await o.writer.apply({ task: ref, event: first, more }, message.correlationId, o.prefix);
      const repo = o.repository().withContext({ correlationId: `${o.prefix}${message.correlationId}` });
      const task = await repo.read<Task>('Task', ref.split('/')[1]);
      const expired = o.expiredOf(task, rxNos);
      const refunded = expired.length ? await repo.transaction((tx) => o.refund(tx, task, expired)) : 'nothing expired: no refund';
      return { response: `${written}\n${refunded}` };
    },
  };
}
