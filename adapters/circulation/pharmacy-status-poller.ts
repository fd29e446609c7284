import type { Organization, Task } from '@medplum/fhirtypes';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import type { Repository } from '../../fhir-resources/store/repository';
import type { PharmacyStatus } from '../../mappings/circulation/peer-reports';
import { tasksInFlight } from './tasks-in-flight';
import { PharmacyClient, PharmacyRefusal, type PharmacyClientOptions } from './pharmacy-client';

export interface PharmacyStatusPollerOptions {
  cron: string;
  repository: () => Repository;
  /** Pharmacy code → how its API is reached. */
  pharmacies: Record<string, () => PharmacyClientOptions>;
  /** The search (query parameters on Task) that finds the Tasks in flight. */
  inFlight: Record<string, string>;
  /** The pharmacy code of a Task's owner, or undefined when it is not an API pharmacy. */
  pharmacyOf: (owner: Organization | undefined) => string | undefined;
  /** The Task's prescriptions at the pharmacy still waiting for news (处方号). */
  waitingAtPharmacy: (task: Task) => string[];
  /** Does the answer say anything the Task does not show yet? Only news becomes a message. */
  isNews: (task: Task, status: PharmacyStatus) => boolean;
}


/**
 * A pharmacy's callback can be lost (its notifier down, our endpoint away longer than it retries): on the schedule,
 * each prescription in flight at an API pharmacy is looked up with GET /prescriptions/<rxNo>, and an answer that
 * moves the Task is stored as a message, which becomes the same event the callback would have. The callback and the
 * poll meet in the Task's forward-only states, so the one that comes second changes nothing. A prescription the
 * pharmacy does not know (404) is logged and skipped; a pharmacy that cannot be reached fails the run, the next asks again.
 */
export function pharmacyStatusPoller(o: PharmacyStatusPollerOptions): SourceConnector {
  const clients = new Map<string, PharmacyClient>();
  return {
    type: 'pharmacy-status-poll',
    async start(ctx: SourceContext) {
      const log = childLogger({ component: 'pharmacy-status-poller', channel: ctx.channelId });
      const client = (code: string): PharmacyClient | undefined => {
        const options = o.pharmacies[code];
        if (!options) return undefined;
        if (!clients.has(code)) clients.set(code, new PharmacyClient(options()));
        return clients.get(code);
      };
      ctx.schedule(o.cron, async () => {
        if (!ctx.accepting()) return;
        for await (const { task, owner } of tasksInFlight(o.repository(), o.inFlight)) {
          const code = o.pharmacyOf(owner);
          const pharmacy = code ? client(code) : undefined;
          if (!pharmacy) continue;
          for (const rxNo of o.waitingAtPharmacy(task)) {
            try {
              const order = await pharmacy.status(rxNo);
              const status: PharmacyStatus = { task: `Task/${task.id}`, rxNo, polledAt: new Date().toISOString(), order };
              if (o.isNews(task, status)) await ctx.accept({ content: JSON.stringify(status), contentType: 'application/json' });
            } catch (err) {
              if (!(err instanceof PharmacyRefusal)) throw err;
              log.warn('pharmacy cannot answer for a circulated prescription', { task: `Task/${task.id}`, pharmacy: code, rxNo, error: err.message });
            }
          }
        }
      });
    },
    async stop() {
      // The engine unschedules the channel's jobs on undeploy; the connection pools are ours to close.
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}
