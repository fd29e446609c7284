import type { Knex } from 'knex';
import { z } from 'zod';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { alreadyAccepted } from '../already-accepted';
import { foreignDatabaseSchema, openForeignDatabase, sqlIdentifier } from './foreign-database';
import { loadMark, migratePollerMarks, PollMark, saveMark } from './poller-marks';

export const databasePollerSchema = foreignDatabaseSchema.extend({
  /** croner pattern; six fields = seconds. */
  cron: z.string().default('*/10 * * * * *'),
  /** The rows to pick up, e.g. `SELECT * FROM v_his_orders WHERE status = 'N'`; wrapped, ordered and limited here. */
  query: z.string().min(1),
  /** Unique per row; becomes the message's correlation id, which is what makes a second pickup of a row a no-op. */
  keyColumn: sqlIdentifier,
  /** Pick up only rows past the last one seen by this column (increasing id, update time); omit for status mode. */
  highWaterMark: z.object({ column: sqlIdentifier }).strict().optional(),
  batchSize: z.number().int().min(1).max(10_000).default(100),
  /** Batches per fire, so that one fire after a long outage does not hold the schedule lease for an hour. */
  maxBatchesPerPoll: z.number().int().min(1).default(20),
  /** SQL run for every row of a batch in one transaction once the batch is stored, `:key` bound to the row key. */
  postProcess: z.string().min(1).optional(),
  /**
   * How long a batch this node is working on stays its own when the node goes silent: renewed while it works, so a
   * node killed mid-batch leaves the rows to another node after about this long (default 60 s).
   */
  leaseMs: z.number().int().min(1000).default(60_000),
}).strict().refine((o) => o.highWaterMark || o.postProcess, {
  message: 'give highWaterMark or postProcess: without either, the same rows are picked up on every poll',
});

export type DatabasePollerOptions = z.input<typeof databasePollerSchema>;

const ALIAS = 'lingshu_poll';

/** A row as JSON: timestamps as ISO text, binary columns as base64, big integers as text. */
function rowContent(row: Record<string, unknown>): string {
  return JSON.stringify(row, function (this: Record<string, unknown>, k, v: unknown) {
    const raw = this[k];
    if (Buffer.isBuffer(raw)) return raw.toString('base64');
    return typeof v === 'bigint' ? v.toString() : v;
  });
}

/**
 * Polls a foreign table or view (the HIS vendor's interface views, most often on Oracle or SQL Server) and hands
 * each row to the channel as one JSON message.
 *
 * Status mode: the query selects unprocessed rows and `postProcess` marks them. High-water-mark mode: only rows past
 * the persisted (column, key) mark are read. Either way every batch goes: read → accept each row (stored durably by
 * the engine) → post-process the batch in one foreign transaction → save the mark. Accepting and marking cannot be
 * one transaction — the message store and the HIS are different databases — so the pair is made idempotent instead:
 * the row key is the message's correlation id, and a row whose key the channel already stored is not accepted
 * again. An engine killed after accepting and before marking re-reads those rows on its next poll, finds them
 * stored, and only marks them: each row becomes exactly one message.
 */
export function databasePoller(ownDb: Knex, options: DatabasePollerOptions): SourceConnector {
  const o = databasePollerSchema.parse(options);
  let foreign: Knex | undefined;
  let stopped = false;
  return {
    type: 'database-poller',
    async start(ctx: SourceContext) {
      stopped = false;
      const log = childLogger({ component: 'database-poller', channel: ctx.channelId });
      await migratePollerMarks(ownDb);
      const db = openForeignDatabase(o);
      foreign = db;
      ctx.schedule(o.cron, async () => {
        for (let n = 0; n < o.maxBatchesPerPoll && !stopped; n++) {
          const picked = await pollBatch(db, ctx);
          if (picked.accepted) log.info('rows picked up', picked);
          if (picked.rows < o.batchSize) return;
        }
      }, { leaseMs: o.leaseMs });
    },
    async stop() {
      stopped = true;
      await foreign?.destroy();
      foreign = undefined;
    },
  };

  async function pollBatch(db: Knex, ctx: SourceContext): Promise<{ rows: number; accepted: number; alreadyStored: number }> {
    const hwm = o.highWaterMark?.column;
    const mark = hwm ? await loadMark(ownDb, ctx.channelId) : undefined;
    const q = db.select('*').from(db.raw(`(${o.query}) ${ALIAS}`));
    if (hwm && mark) {
      q.where((w) => w.where(hwm, '>', mark.value as Knex.Value)
        .orWhere((tie) => tie.where(hwm, '=', mark.value as Knex.Value).andWhere(o.keyColumn, '>', mark.key as Knex.Value)));
    }
    const rows: Record<string, unknown>[] = await q.orderBy(hwm ? [hwm, o.keyColumn] : [o.keyColumn]).limit(o.batchSize);
    if (!rows.length) return { rows: 0, accepted: 0, alreadyStored: 0 };

    const keyOf = (r: Record<string, unknown>) => {
      const k = r[o.keyColumn];
      if (k === null || k === undefined) throw new Error(`row without a value in key column ${o.keyColumn}`);
      return String(k);
    };
    const stored = await alreadyAccepted(ownDb, ctx.channelId, rows.map(keyOf));
    const fresh = rows.filter((r) => !stored.has(keyOf(r)));
    // Concurrent accepts share one group commit; any failure stops the batch before anything is marked.
    await Promise.all(fresh.map((r) => ctx.accept({ content: rowContent(r), contentType: 'application/json', encoding: 'utf-8', correlationId: keyOf(r) })));

    if (o.postProcess) {
      const sql = o.postProcess;
      await db.transaction(async (trx) => {
        for (const r of rows) await trx.raw(sql, { key: r[o.keyColumn] as Knex.Value });
      });
    }
    if (hwm) {
      const last = rows[rows.length - 1];
      const next: PollMark = { value: last[hwm], key: last[o.keyColumn] };
      await saveMark(ownDb, ctx.channelId, next);
    }
    return { rows: rows.length, accepted: fresh.length, alreadyStored: rows.length - fresh.length };
  }
}
