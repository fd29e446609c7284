import type { Knex } from 'knex';
import { runMigrations } from '../../engine/migrations';

const MARKS = 'lingshu_db_poller_marks';

/**
 * Where a high-water-mark poller got to, per channel, kept in Lingshu's own database so that a restart (or another
 * node taking over the schedule) goes on from there instead of re-reading the whole view.
 *
 * The mark is (column value, row key): ordering by the mark column alone would lose rows that share one timestamp
 * when a batch boundary falls between them.
 */
export interface PollMark {
  value: unknown;
  key: unknown;
}

type Encoded = { t: 'date' | 'number' | 'string'; v: string };

// Typed, so that a timestamp column is compared with a timestamp again (not with a string whose format and time
// zone each dialect parses differently) and a numeric key with a number.
function encode(v: unknown): Encoded {
  if (v instanceof Date) return { t: 'date', v: v.toISOString() };
  if (typeof v === 'number') return { t: 'number', v: String(v) };
  return { t: 'string', v: String(v) };
}

function decode(e: Encoded): unknown {
  if (e.t === 'date') return new Date(e.v);
  if (e.t === 'number') return Number(e.v);
  return e.v;
}

export async function migratePollerMarks(db: Knex): Promise<void> {
  await runMigrations(db, 'database-poller', [
    async (k) => {
      await k.schema.createTable(MARKS, (t) => {
        t.string('channel_id', 128).primary();
        t.text('mark').notNullable();
        t.bigInteger('updated_at').notNullable();
      });
    },
  ]);
}

export async function loadMark(db: Knex, channelId: string): Promise<PollMark | undefined> {
  const row = await db(MARKS).where({ channel_id: channelId }).first();
  if (!row) return undefined;
  const m = JSON.parse(String(row.mark)) as { value: Encoded; key: Encoded };
  return { value: decode(m.value), key: decode(m.key) };
}

export async function saveMark(db: Knex, channelId: string, mark: PollMark): Promise<void> {
  const row = { mark: JSON.stringify({ value: encode(mark.value), key: encode(mark.key) }), updated_at: Date.now() };
  // Only the node holding the schedule lease writes a channel's mark, so update-then-insert cannot race.
  const updated = await db(MARKS).where({ channel_id: channelId }).update(row);
  if (!updated) await db(MARKS).insert({ channel_id: channelId, ...row });
}
