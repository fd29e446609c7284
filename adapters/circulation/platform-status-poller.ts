import type { Task } from '@medplum/fhirtypes';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import type { Repository } from '../../fhir-resources/store/repository';
import type { PlatformStatus } from '../../mappings/circulation/peer-reports';
import { tasksInFlight } from './tasks-in-flight';
import { PlatformRefusal, PrescriptionPlatformClient, type PrescriptionPlatformOptions } from './prescription-platform-client';

export interface PlatformStatusPollerOptions {
  cron: string;
  repository: () => Repository;
  platform: PrescriptionPlatformOptions;
  /** The search (query parameters on Task) that finds the Tasks in flight at the platform. */
  inFlight: Record<string, string>;
  /** The Task's prescriptions at the platform still waiting for news: 处方号 and the platform's number. */
  waitingAtPlatform: (task: Task) => { rxNo: string; hiRxno: string }[];
  /** Does the answer say anything the Task does not show yet? Only news becomes a message. */
  isNews: (task: Task, status: PlatformStatus) => boolean;
}


/**
 * The platform tells nobody when a pharmacist reviews or a pharmacy dispenses; the hospital asks. On the schedule,
 * each Task in flight is looked up with rxChkInfoQuery (审方) and, once approved, rxSetlInfoQuery (取药), and an
 * answer that moves the Task is stored as a message. One Task the platform cannot answer for is logged and skipped;
 * the platform being unreachable fails the run (the scheduler records it) and the next run asks again.
 */
export function platformStatusPoller(o: PlatformStatusPollerOptions): SourceConnector {
  let client: PrescriptionPlatformClient | undefined;
  return {
    type: 'prescription-platform-poll',
    async start(ctx: SourceContext) {
      const platform = client = new PrescriptionPlatformClient(o.platform);
      const log = childLogger({ component: 'platform-status-poller', channel: ctx.channelId });
      ctx.schedule(o.cron, async () => {
        if (!ctx.accepting()) return;
        for await (const { task } of tasksInFlight(o.repository(), o.inFlight)) {
          for (const { rxNo, hiRxno } of o.waitingAtPlatform(task)) {
            try {
              const review = await platform.call('rxChkInfoQuery', { hi_rxno: hiRxno });
              const settlement = review.rx_chk_stas_codg === '1' ? await platform.call('rxSetlInfoQuery', { hi_rxno: hiRxno }) : undefined;
              const status: PlatformStatus = { task: `Task/${task.id}`, rxNo, hiRxno, polledAt: new Date().toISOString(), review, ...(settlement ? { settlement } : {}) };
              if (o.isNews(task, status)) await ctx.accept({ content: JSON.stringify(status), contentType: 'application/json' });
            } catch (err) {
              if (!(err instanceof PlatformRefusal)) throw err;
              log.warn('platform cannot answer for a circulated prescription', { task: `Task/${task.id}`, hiRxno, error: err.message });
            }
          }
        }
      });
    },
    async stop() {
      // The engine unschedules the channel's jobs on undeploy; the connection pool is ours to close.
      await client?.close();
      client = undefined;
    },
  };
}
