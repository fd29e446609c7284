import type { Knex } from 'knex';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { loadMark, migratePollerMarks, saveMark, type PollMark } from '../database/poller-marks';
import type { DictionaryFeed, FeedRow } from './dictionary-feed';

export interface DictionarySyncOptions {
  feeds: DictionaryFeed[];
  /** croner patterns (six fields = seconds): the rows changed since the last one seen, and everything. */
  incrementalCron: string;
  fullCron: string;
  /** Pages per run, so that one run after a long outage does not hold the schedule lease for an hour. */
  maxPagesPerRun?: number;
}

type Mode = 'full' | 'incremental';

const after = (r: FeedRow, mark: PollMark) => {
  const t = r.changedAt.getTime();
  const m = (mark.value as Date).getTime();
  return t > m || (t === m && r.key > String(mark.key));
};

/**
 * Keeps a dictionary in step with its source on a schedule (one node at a time: the engine's scheduler holds each
 * schedule's lease). Each row becomes one message `{feed, row}`, so a row the mapping refuses fails alone and can be
 * found in the message browser by its correlation id `<feed>:<key>`.
 *
 * Incremental: the rows changed at or after the feed's mark, minus those at or before it, the mark — (change time,
 * key) of the last row handed in — saved after every page in Lingshu's database (poller-marks.ts), so a restart or
 * another node goes on from there. A feed without a mark is read in full, which sets it. Full (nightly): every row again, which
 * repairs whatever an increment missed; the destination writes only what differs from the store, so a full run over
 * an unchanged source adds no versions.
 */
export function dictionarySyncSource(ownDb: Knex, options: DictionarySyncOptions): SourceConnector {
  const maxPages = options.maxPagesPerRun ?? 1000;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  return {
    type: 'dictionary-sync',
    async start(ctx: SourceContext) {
      stopped = false;
      await migratePollerMarks(ownDb);
      const log = childLogger({ component: 'dictionary-sync', channel: ctx.channelId });
      // Runs of one node follow each other: a full run and an increment over the same feed would only race on the mark.
      const run = (mode: Mode) => async () => {
        const next = running.then(async () => {
          for (const feed of options.feeds) {
            if (stopped) return;
            const result = await syncFeed(feed, mode, ctx);
            if (result.accepted || mode === 'full') log.info('dictionary synchronised', { feed: feed.name, requested: mode, ...result });
          }
        });
        running = next.catch(() => undefined);
        await next;
      };
      ctx.schedule(options.incrementalCron, run('incremental'));
      ctx.schedule(options.fullCron, run('full'));
    },
    async stop() {
      stopped = true;
      await running;
    },
  };

  async function syncFeed(feed: DictionaryFeed, requested: Mode, ctx: SourceContext): Promise<{ mode: Mode; rows: number; accepted: number; pages: number }> {
    const markKey = `${ctx.channelId}:${feed.name}`;
    let mark = await loadMark(ownDb, markKey);
    const mode: Mode = mark ? requested : 'full';
    // A full run over a feed that has a mark leaves it alone: a row changed behind the run's page would otherwise be
    // skipped by the next increment once a later page moved the mark past its change time.
    const moveMark = mode === 'incremental' || !mark;
    const since = mode === 'incremental' && mark ? (mark.value as Date) : undefined;
    let next: string | undefined;
    let rows = 0;
    let accepted = 0;
    let pages = 0;
    do {
      const page = await feed.page({ changedSince: since, next });
      pages++;
      rows += page.rows.length;
      const fresh = mode === 'incremental' && mark ? page.rows.filter((r) => after(r, mark!)) : page.rows;
      // Concurrent accepts share one group commit; a failure stops the run before the mark moves past the page.
      await Promise.all(fresh.map((r) => ctx.accept({
        content: JSON.stringify({ feed: feed.name, row: r.row }), contentType: 'application/json', encoding: 'utf-8', correlationId: `${feed.name}:${r.key}`,
      })));
      accepted += fresh.length;
      const last = [...page.rows].sort((a, b) => a.changedAt.getTime() - b.changedAt.getTime() || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).pop();
      if (moveMark && last && (!mark || after(last, mark))) {
        mark = { value: last.changedAt, key: last.key };
        await saveMark(ownDb, markKey, mark);
      }
      next = page.next;
    } while (next && !stopped && pages < maxPages);
    return { mode, rows, accepted, pages };
  }
}
