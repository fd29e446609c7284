import { Knex } from 'knex';
import { Dialect } from '../db';
import { DAY_MS, dayOf, ERRORS, MESSAGES, PgPartitions, STAGES } from './message-store-schema';
import { PrunePolicy, PruneResult } from './types';

/** Rows per statement: large enough to be quick, small enough not to hold locks (or SQLite's one writer) for long. */
export const PRUNE_BATCH = 5_000;
/** Partitions kept ready ahead of time, relative to today (UTC). */
export const DAYS_BEHIND = 1;
export const DAYS_AHEAD = 7;

export interface PruneContext {
  dialect: Dialect;
  partitions?: PgPartitions;
  /** Messages received before this are gone or going: cached received_at values for them must not be trusted. */
  forgetBefore(cutoff: number): void;
  batchSize?: number;
}

export function upcomingDays(now: number): number[] {
  const today = dayOf(now);
  const days: number[] = [];
  for (let d = today - DAYS_BEHIND; d <= today + DAYS_AHEAD; d++) days.push(d);
  return days;
}

/**
 * Whole days are dropped first (PostgreSQL), then what is left is deleted in batches, then content is cleared in
 * batches — in that order so that no work is spent on rows that are about to go anyway.
 */
export async function pruneMessages(db: Knex, ctx: PruneContext, policies: PrunePolicy[], now: number): Promise<PruneResult> {
  const batch = ctx.batchSize ?? PRUNE_BATCH;
  const result: PruneResult = { contentPruned: 0, messagesDeleted: 0 };
  const withMetadata = policies.filter((p) => p.metadataDays && p.metadataDays > 0);
  if (withMetadata.length) ctx.forgetBefore(Math.max(...withMetadata.map((p) => now - p.metadataDays! * DAY_MS)));
  if (ctx.partitions && withMetadata.length && withMetadata.length === policies.length) {
    result.messagesDeleted += await dropExpiredDays(ctx.partitions, policies, now);
  }
  for (const p of withMetadata) {
    result.messagesDeleted += await deleteBefore(db, p.channelId, now - p.metadataDays! * DAY_MS, batch);
  }
  for (const p of policies) {
    if (p.contentDays && p.contentDays > 0) result.contentPruned += await clearContentBefore(db, p.channelId, now - p.contentDays * DAY_MS, batch);
  }
  if (ctx.partitions) await ctx.partitions.ensure(upcomingDays(now));
  if (ctx.dialect === 'sqlite' && (result.messagesDeleted || result.contentPruned)) await incrementalVacuum(db);
  return result;
}

/**
 * auto_vacuum=INCREMENTAL only puts freed pages on the freelist; this hands them back to the file system. Through
 * knex the pragma would be stepped once, freeing a single page, so it runs on the driver connection with exec(),
 * which steps it to the end.
 */
async function incrementalVacuum(db: Knex): Promise<void> {
  const conn = await db.client.acquireConnection();
  try {
    conn.exec('PRAGMA incremental_vacuum');
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/**
 * Days that lie wholly before the longest retention of all channels hold nothing any policy wants kept, provided
 * every channel present in them has a policy (a channel without one keeps its messages, so its day stays).
 */
async function dropExpiredDays(partitions: PgPartitions, policies: PrunePolicy[], now: number): Promise<number> {
  const longest = Math.max(...policies.map((p) => p.metadataDays!));
  const firstKept = dayOf(now - longest * DAY_MS);
  const covered = new Set(policies.map((p) => p.channelId));
  let deleted = 0;
  for (const day of await partitions.list()) {
    if (day >= firstKept) break;
    const channels = await partitions.channelsIn(day);
    if (channels.some((c) => !covered.has(c))) continue;
    try {
      deleted += await partitions.drop(day);
    } catch (err) {
      // The parent table stayed busy (lock timeout): the batched deletes below remove the rows instead.
      if ((err as { code?: string }).code !== '55P03') throw err;
    }
  }
  return deleted;
}

async function deleteBefore(db: Knex, channelId: string, cutoff: number, batch: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const rows: { id: string; received_at: number | string }[] = await db(MESSAGES)
      .select('id', 'received_at')
      .where('channel_id', channelId)
      .where('received_at', '<', cutoff)
      .orderBy('received_at')
      .limit(batch);
    if (!rows.length) return deleted;
    const ids = rows.map((r) => r.id);
    const range = bounds(rows);
    deleted += await db.transaction(async (trx): Promise<number> => {
      await trx(STAGES).whereIn('message_id', ids).whereBetween('received_at', range).del();
      await trx(ERRORS).whereIn('message_id', ids).whereBetween('received_at', range).del();
      return Number(await trx(MESSAGES).whereIn('id', ids).whereBetween('received_at', range).del());
    });
    if (rows.length < batch) return deleted;
  }
}

async function clearContentBefore(db: Knex, channelId: string, cutoff: number, batch: number): Promise<number> {
  let cleared = 0;
  // Keyset over (received_at, id): each batch starts where the last ended instead of re-reading cleared rows.
  let after: { receivedAt: number; id: string } | undefined;
  for (;;) {
    const q = db(MESSAGES)
      .select('id', 'received_at')
      .where('channel_id', channelId)
      .where('received_at', '<', cutoff)
      .where('content_pruned', false);
    if (after) {
      const a = after;
      q.where('received_at', '>=', a.receivedAt)
        .where((b) => b.where('received_at', '>', a.receivedAt).orWhere((b2) => b2.where('received_at', a.receivedAt).where('id', '>', a.id)));
    }
    const rows: { id: string; received_at: number | string }[] = await q.orderBy([{ column: 'received_at' }, { column: 'id' }]).limit(batch);
    if (!rows.length) return cleared;
    const ids = rows.map((r) => r.id);
    const range = bounds(rows);
    // Stages before messages: the same lock order as the write batcher, so the two cannot deadlock.
    cleared += await db.transaction(async (trx): Promise<number> => {
      await trx(STAGES).whereIn('message_id', ids).whereBetween('received_at', range).update({ content: null, response: null });
      return Number(await trx(MESSAGES).whereIn('id', ids).whereBetween('received_at', range).where('content_pruned', false)
        .update({ raw: null, output: null, content_pruned: true }));
    });
    const last = rows[rows.length - 1];
    after = { receivedAt: Number(last.received_at), id: last.id };
    if (rows.length < batch) return cleared;
  }
}

function bounds(rows: { received_at: number | string }[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    const v = Number(r.received_at);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
