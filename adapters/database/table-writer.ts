import type { Knex } from 'knex';
import { z } from 'zod';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { dialectOf } from '../../engine/db';
import { isTransient, WriteBatcher } from '../../engine/write-batcher';

export const tableWriterSchema = z.object({
  table: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a table name: lower-case letters, digits and _'),
}).strict();

interface RowWrite {
  message: OutboundMessage;
  /** Set by the batch: false when a row with this message id was already there. */
  inserted?: boolean;
}

/** Rows per INSERT: 5 parameters each, well under every dialect's bind-parameter limit. */
const ROWS_PER_STATEMENT = 500;

/**
 * Writes each message as one row keyed by message id. The key makes the write idempotent: a retry after a crash
 * between the insert and the engine recording it as sent finds the row and counts as delivered.
 *
 * Concurrent sends are group-committed: one multi-row INSERT … ON CONFLICT DO NOTHING per batch instead of one
 * autocommit (one WAL flush) per row, which was the destination's ceiling under load. A send still resolves only
 * once its row is committed.
 */
export function tableWriter(db: Knex, options: z.infer<typeof tableWriterSchema>): DestinationConnector {
  const { table } = tableWriterSchema.parse(options);
  // MySQL has no RETURNING: there a row already present is reported as written, which it is.
  const returning = dialectOf(db) !== 'mysql';
  const batcher = new WriteBatcher<RowWrite>(db, {
    maxBatch: 1_000,
    // One bad row (say, content the column refuses) fails only its own send.
    isolateFailures: true,
    retryable: isTransient,
    apply: (trx, writes) => writeRows(trx, writes),
    // A batch that fits one INSERT is atomic by itself: no BEGIN/COMMIT round trips.
    single: (writes) => (new Set(writes.map((w) => w.message.messageId)).size <= ROWS_PER_STATEMENT ? (q) => writeRows(q, writes) : undefined),
  });
  async function writeRows(q: Knex, writes: RowWrite[]): Promise<void> {
    const now = Date.now();
    const byId = new Map<string, RowWrite[]>();
    for (const w of writes) byId.set(w.message.messageId, [...(byId.get(w.message.messageId) ?? []), w]);
    const ids = [...byId.keys()];
    for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT) {
      const part = ids.slice(i, i + ROWS_PER_STATEMENT);
      const rows = part.map((id) => {
        const m = byId.get(id)![0].message;
        return { message_id: m.messageId, channel_id: m.channelId, correlation_id: m.correlationId, content: m.content, written_at: now };
      });
      const insert = q(table).insert(rows).onConflict('message_id').ignore();
      if (!returning) {
        await insert;
        for (const id of part) for (const w of byId.get(id)!) w.inserted = true;
        continue;
      }
      const written = new Set((await insert.returning('message_id') as { message_id: string }[]).map((r) => r.message_id));
      for (const id of part) byId.get(id)!.forEach((w, n) => { w.inserted = n === 0 && written.has(id); });
    }
  }
  return {
    type: 'table',
    async start() {
      if (await db.schema.hasTable(table)) return;
      try {
        await db.schema.createTable(table, (t) => {
          t.string('message_id', 64).primary();
          t.string('channel_id', 64).notNullable();
          t.string('correlation_id', 128).notNullable();
          t.text('content', 'longtext');
          t.bigInteger('written_at').notNullable();
        });
      } catch (err) {
        if (!(await db.schema.hasTable(table))) throw err;
      }
    },
    async send(m: OutboundMessage) {
      const write: RowWrite = { message: m };
      await batcher.submit(write);
      return { response: write.inserted ? `row ${m.messageId} written to ${table}` : `row ${m.messageId} already in ${table}` };
    },
    async stop() {
      await batcher.drain();
    },
  };
}
