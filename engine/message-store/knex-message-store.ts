import { Knex } from 'knex';
import { Dialect, dialectOf } from '../db';
import { runMigrations } from '../migrations';
import { pruneMessages, upcomingDays } from './message-pruner';
import { dayOf, ERRORS, isMissingPartition, LIMITS, MESSAGES, messageStoreMigrations, PgPartitions, STAGES } from './message-store-schema';
import { applyWrites, planWrites, STAGE_CONTENT_SQL, stageContent, WriteContext, WriteOp } from './message-writes';
import { pgBatchStatement, pgChangesStatement } from './pg-batch-statement';
import {
  AttemptError, ChannelCounts, MessageQuery, MessageStatus, MessageStore, MessageSummary, NewMessage, PendingStage,
  PrunePolicy, PruneResult, StageStatus, StageUpdate, StoredMessage,
} from './types';
import { isTransient, WriteBatcher, WriteBatcherStats } from '../write-batcher';

export interface KnexMessageStoreOptions {
  /** Most writes group-committed in one transaction (default 1,000). */
  flushMaxBatch?: number;
  /** Rows per pruning statement (default 5,000). */
  pruneBatch?: number;
  /** How long changes to stored messages wait for a new message's batch to ride along with (default 5 ms; 0: never). */
  lazyMs?: number;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
/** Recent ids → received_at: lets stage updates name the PostgreSQL partition instead of probing every day. */
const ID_CACHE_SIZE = 100_000;

const SUMMARY_COLUMNS = [
  'id', 'channel_id', 'correlation_id', 'status', 'content_type', 'encoding', 'received_at', 'updated_at',
  'reprocessed_from', 'content_pruned', 'size',
];

type Row = Record<string, any>;

/**
 * Message store on SQLite, PostgreSQL or MySQL/MariaDB. Writes go through a group-commit batcher; reads go
 * straight to the database and see what has committed.
 */
export class KnexMessageStore implements MessageStore {
  private readonly dialect: Dialect;
  private readonly batcher: WriteBatcher<WriteOp>;
  private readonly partitions?: PgPartitions;
  private readonly receivedAt = new Map<string, number>();

  constructor(private readonly db: Knex, private readonly options: KnexMessageStoreOptions = {}) {
    this.dialect = dialectOf(db);
    if (this.dialect === 'postgres') this.partitions = new PgPartitions(db);
    const ctx: WriteContext = {
      dialect: this.dialect, receivedAtOf: (id) => this.receivedAt.get(id), remember: (id, ra) => this.remember(id, ra),
      changesStatement: this.dialect === 'postgres' ? (plan, now) => pgChangesStatement(ctx, plan, now) : undefined,
    };
    this.batcher = new WriteBatcher<WriteOp>(db, {
      maxBatch: options.flushMaxBatch ?? 1_000,
      // Nobody waits on a destination's outcome but its queue consumer: it rides along with the next new message.
      lazy: (op) => op.kind !== 'insert',
      lazyMs: options.lazyMs ?? 5,
      apply: (trx, ops) => applyWrites(trx, ctx, ops),
      // PostgreSQL: the whole batch as one statement in autocommit (pg-batch-statement.ts).
      single: this.dialect === 'postgres' ? (ops) => {
        const statement = pgBatchStatement(ctx, planWrites(ops), Date.now());
        return statement && ((q) => q.raw(...statement));
      } : undefined,
      prepare: this.partitions ? (ops) => this.partitions!.ensure(insertDays(ops)) : undefined,
      committed: (ops) => {
        for (const op of ops) if (op.kind === 'insert') this.remember(op.message.id, op.message.receivedAt);
      },
      retryable: (err) => {
        if (isMissingPartition(err)) {
          // Someone dropped a day we had cached; re-read both the catalog and the ids before trying again.
          this.partitions?.forget();
          this.receivedAt.clear();
          return true;
        }
        return isTransient(err);
      },
    });
  }

  /** Group-commit counters (transactions vs operations), for metrics and tests. */
  get writeStats(): Readonly<WriteBatcherStats> {
    return this.batcher.stats;
  }

  async migrate(): Promise<void> {
    await runMigrations(this.db, 'message-store', messageStoreMigrations());
    await this.partitions?.ensure(upcomingDays(Date.now()));
  }

  insert(message: NewMessage): Promise<void> {
    try {
      validate(message);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.batcher.submit({ kind: 'insert', message });
  }

  updateStage(update: StageUpdate): Promise<void> {
    try {
      validateUpdate(update);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.batcher.submit({ kind: 'stage', update });
  }

  async markQueued(stages: { messageId: string; stage: string }[]): Promise<void> {
    if (stages.length) await this.batcher.submit({ kind: 'queued', stages });
  }

  recordAttemptError(messageId: string, error: AttemptError): Promise<void> {
    try {
      validateAttemptError(messageId, error);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.batcher.submit({ kind: 'error', messageId, error });
  }

  async get(id: string): Promise<StoredMessage | undefined> {
    const m: Row | undefined = await this.byId(this.db(MESSAGES).select('*'), 'id', id).first();
    if (!m) return undefined;
    const ra = Number(m.received_at);
    const [stages, errors] = await Promise.all([
      this.db(STAGES).where({ message_id: id, received_at: ra }).orderBy('seq') as Promise<Row[]>,
      this.db(ERRORS).where({ message_id: id, received_at: ra }).orderBy([{ column: 'attempt' }, { column: 'at' }, { column: 'id' }]) as Promise<Row[]>,
    ]);
    return {
      ...summary(m),
      raw: m.raw,
      stages: stages.map((s) => ({
        name: s.name, kind: s.kind, status: s.status, content: stageContent(s, m), response: s.response, error: s.error,
        attempts: Number(s.attempts), updatedAt: Number(s.updated_at),
      })),
      errors: errors.map((e) => ({ stage: e.stage, attempt: Number(e.attempt), error: e.error, at: Number(e.at) })),
    };
  }

  async stageStatus(messageId: string, stage: string): Promise<StageStatus | undefined> {
    const row: Row | undefined = await this.byId(this.db(STAGES).select('status').where('name', stage), 'message_id', messageId).first();
    return row?.status;
  }

  async search(query: MessageQuery): Promise<{ messages: MessageSummary[]; next?: string }> {
    const limit = Math.min(Math.max(Math.floor(query.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
    const q = this.db(MESSAGES).select(SUMMARY_COLUMNS);
    if (query.channel !== undefined) q.where('channel_id', query.channel);
    if (query.status !== undefined) q.where('status', query.status);
    if (query.correlationId !== undefined) q.where('correlation_id', query.correlationId);
    if (query.from !== undefined) q.where('received_at', '>=', query.from);
    if (query.to !== undefined) q.where('received_at', '<', query.to);
    if (query.q) {
      // SQLite's LIKE ignores ASCII case; instr() matches exactly, as PostgreSQL's LIKE does.
      if (this.dialect === 'sqlite') q.whereRaw('instr(raw, ?) > 0', [query.q]);
      else q.whereRaw(`raw LIKE ? ESCAPE '!'`, [`%${query.q.replace(/[!%_]/g, (c) => `!${c}`)}%`]);
    }
    if (query.cursor) {
      const c = decodeCursor(query.cursor);
      // The redundant <= bounds the index range scan; the OR alone would not.
      q.where('received_at', '<=', c.receivedAt)
        .where((b) => b.where('received_at', '<', c.receivedAt).orWhere((b2) => b2.where('received_at', c.receivedAt).where('id', '<', c.id)));
    }
    const rows: Row[] = await q.orderBy([{ column: 'received_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit + 1);
    const messages = rows.slice(0, limit).map(summary);
    const last = messages[messages.length - 1];
    return rows.length > limit ? { messages, next: encodeCursor(last.receivedAt, last.id) } : { messages };
  }

  async pendingStages(limit: number, olderThan?: number): Promise<PendingStage[]> {
    // 'pending' as a literal, not a parameter: PostgreSQL only uses its partial index when it sees the value.
    const q = this.db(`${STAGES} as s`)
      .join(`${MESSAGES} as m`, (j) => j.on('m.id', 's.message_id').andOn('m.received_at', 's.received_at'))
      .select('s.message_id', 's.name', this.db.raw(`${STAGE_CONTENT_SQL} AS content`), 's.received_at', 'm.channel_id', 'm.correlation_id')
      .whereRaw(`s.status = 'pending'`)
      .where('s.kind', 'destination');
    if (olderThan !== undefined) q.where('s.updated_at', '<', olderThan);
    const rows: Row[] = await q
      .orderBy([{ column: 's.received_at' }, { column: 's.message_id' }, { column: 's.seq' }])
      .limit(Math.max(1, Math.floor(limit)));
    return rows.map((r) => ({
      messageId: r.message_id, channelId: r.channel_id, correlationId: r.correlation_id, stage: r.name,
      content: r.content ?? null, receivedAt: Number(r.received_at),
    }));
  }

  async counts(): Promise<ChannelCounts[]> {
    const rows: Row[] = await this.db(MESSAGES).select('channel_id', 'status').count({ n: '*' }).groupBy('channel_id', 'status');
    const byChannel = new Map<string, ChannelCounts>();
    for (const r of rows) {
      let c = byChannel.get(r.channel_id);
      if (!c) byChannel.set(r.channel_id, (c = { channelId: r.channel_id, received: 0, filtered: 0, queued: 0, sent: 0, error: 0 }));
      const n = Number(r.n);
      c.received += n;
      const status = r.status as MessageStatus;
      if (status === 'filtered' || status === 'sent' || status === 'error') c[status] += n;
      else c.queued += n;
    }
    return [...byChannel.values()].sort((a, b) => (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0));
  }

  prune(policies: PrunePolicy[], now = Date.now()): Promise<PruneResult> {
    return pruneMessages(this.db, {
      dialect: this.dialect,
      partitions: this.partitions,
      batchSize: this.options.pruneBatch,
      forgetBefore: (cutoff) => {
        for (const [id, ra] of this.receivedAt) if (ra < cutoff) this.receivedAt.delete(id);
      },
    }, policies, now);
  }

  /** Waits for writes already submitted; the database handle belongs to the caller. */
  async close(): Promise<void> {
    await this.batcher.drain();
  }

  /** Adds received_at to a lookup by id when it is known, so that PostgreSQL visits one partition, not all. */
  private byId(q: Knex.QueryBuilder, column: string, id: string): Knex.QueryBuilder {
    q.where(column, id);
    const ra = this.receivedAt.get(id);
    if (ra !== undefined) q.where('received_at', ra);
    return q;
  }

  private remember(id: string, receivedAt: number): void {
    this.receivedAt.set(id, receivedAt);
    if (this.receivedAt.size > ID_CACHE_SIZE) {
      // Map iterates in insertion order: drop the oldest tenth in one go rather than one entry per insert.
      let n = ID_CACHE_SIZE / 10;
      for (const key of this.receivedAt.keys()) {
        this.receivedAt.delete(key);
        if (--n <= 0) break;
      }
    }
  }
}

function insertDays(ops: WriteOp[]): number[] {
  const days = new Set<number>();
  for (const op of ops) if (op.kind === 'insert') days.add(dayOf(op.message.receivedAt));
  return [...days];
}

function summary(r: Row): MessageSummary {
  return {
    id: r.id, channelId: r.channel_id, correlationId: r.correlation_id, status: r.status, contentType: r.content_type,
    encoding: r.encoding, receivedAt: Number(r.received_at), updatedAt: Number(r.updated_at),
    reprocessedFrom: r.reprocessed_from ?? null, contentPruned: Boolean(r.content_pruned), size: Number(r.size),
  };
}

function encodeCursor(receivedAt: number, id: string): string {
  return Buffer.from(JSON.stringify([receivedAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): { receivedAt: number; id: string } {
  try {
    const [receivedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Number.isFinite(receivedAt) && typeof id === 'string') return { receivedAt, id };
  } catch {
    // fall through
  }
  throw Object.assign(new Error('invalid cursor'), { status: 400 });
}

const STAGE_STATUSES = new Set<string>(['received', 'pending', 'queued', 'sent', 'filtered', 'transformed', 'error']);
const MESSAGE_STATUSES = new Set<string>(['received', 'filtered', 'transformed', 'queued', 'sent', 'error']);
const STAGE_KINDS = new Set<string>(['source', 'transformer', 'destination']);

function validateUpdate(u: StageUpdate): void {
  const text = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  if (typeof u.messageId !== 'string' || typeof u.stage !== 'string' || !STAGE_STATUSES.has(u.status)
    || !text(u.content) || !text(u.response) || !text(u.error) || (u.attempts !== undefined && !Number.isSafeInteger(u.attempts))) {
    throw new Error(`invalid stage update for message ${u?.messageId} stage ${u?.stage}`);
  }
}

function validateAttemptError(messageId: string, e: AttemptError): void {
  if (typeof messageId !== 'string' || typeof e?.stage !== 'string' || !e.stage.length || e.stage.length > LIMITS.stage
    || !Number.isSafeInteger(e.attempt) || typeof e.error !== 'string' || !Number.isSafeInteger(e.at)) {
    throw new Error(`invalid attempt error for message ${messageId}`);
  }
}

/** Rejects what the schema would refuse, before it can fail a batch shared with other callers. */
function validate(m: NewMessage): void {
  const check = (what: string, value: unknown, max: number, min = 1) => {
    if (typeof value !== 'string' || value.length < min || value.length > max) throw new Error(`message ${m?.id}: ${what} must be a string of ${min}..${max} characters`);
  };
  check('id', m.id, LIMITS.id);
  check('channelId', m.channelId, LIMITS.channelId);
  check('correlationId', m.correlationId, LIMITS.correlationId);
  if (!MESSAGE_STATUSES.has(m.status)) throw new Error(`message ${m.id}: unknown status ${m.status}`);
  check('contentType', m.contentType, LIMITS.contentType, 0);
  check('encoding', m.encoding, LIMITS.encoding, 0);
  if (typeof m.raw !== 'string') throw new Error(`message ${m.id}: raw must be a string`);
  if (!Number.isSafeInteger(m.receivedAt)) throw new Error(`message ${m.id}: receivedAt must be epoch milliseconds`);
  if (m.reprocessedFrom != null) check('reprocessedFrom', m.reprocessedFrom, LIMITS.id);
  if (!Array.isArray(m.stages)) throw new Error(`message ${m.id}: stages must be an array`);
  const names = new Set<string>();
  for (const s of m.stages) {
    check('stage name', s.name, LIMITS.stage);
    const text = (v: unknown) => v === undefined || v === null || typeof v === 'string';
    if (!STAGE_STATUSES.has(s.status) || !STAGE_KINDS.has(s.kind) || !Number.isSafeInteger(s.attempts) || !Number.isSafeInteger(s.updatedAt)
      || !text(s.content) || !text(s.response) || !text(s.error)) {
      throw new Error(`message ${m.id}: invalid stage ${s.name}`);
    }
    if (names.has(s.name)) throw new Error(`message ${m.id}: stage ${s.name} appears twice`);
    names.add(s.name);
  }
}
