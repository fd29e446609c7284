import { Knex } from 'knex';
import { Dialect } from '../db';
import { ERRORS, MESSAGES, STAGES } from './message-store-schema';
import { AttemptError, MessageStatus, NewMessage, StageStatus, StageUpdate } from './types';

export type WriteOp =
  | { kind: 'insert'; message: NewMessage }
  | { kind: 'stage'; update: StageUpdate }
  | { kind: 'queued'; stages: { messageId: string; stage: string }[] }
  | { kind: 'error'; messageId: string; error: AttemptError };

export interface WriteContext {
  dialect: Dialect;
  /** received_at of a message, when known without asking the database (it selects the PostgreSQL partition). */
  receivedAtOf(id: string): number | undefined;
  remember(id: string, receivedAt: number): void;
  /** The batch's changes to stored messages as one statement, where the dialect has one (pg-batch-statement.ts). */
  changesStatement?(plan: WritePlan, now: number): [string, Knex.RawBinding[]] | undefined;
}

/** Stays well below SQLite's 32,766 and PostgreSQL's 65,535 bind parameters per statement. */
export const MAX_PARAMS = 30_000;
export const MAX_ROWS = 500;
const MAX_IDS = 1_000;
/** In UTF-16 units (≤ 3 bytes each in UTF-8): keeps one statement well under MySQL's max_allowed_packet (16 MB by default). */
export const MAX_BYTES = 2 * 1024 * 1024;

/** Writes one group-commit batch; the caller supplies the transaction. */
export async function applyWrites(trx: Knex.Transaction, ctx: WriteContext, ops: WriteOp[], now = Date.now()): Promise<void> {
  const plan = planWrites(ops);
  for (const [table, columns, rows] of [[MESSAGES, MESSAGE_COLUMNS, plan.messages], [STAGES, STAGE_COLUMNS, plan.stages]] as const) {
    for (const part of chunk(rows, Math.floor(MAX_PARAMS / columns.length), rowSize)) await trx.raw(...insertSql(table, columns, part));
  }
  const { merged, errors, inserted } = plan;
  if (!merged.size && !errors.length) return;
  const statement = ctx.changesStatement?.(plan, now);
  if (statement) {
    await trx.raw(...statement);
    return;
  }

  // Error rows are inserted, not updated, so a stale cached received_at (message pruned meanwhile, maybe by another
  // node) would leave an orphan: their messages are always looked up. They are few, failed attempts only.
  const receivedAt = await resolveReceivedAt(trx, ctx, inserted, [...merged.values()].map((m) => m.messageId), errors.map((e) => e.messageId));
  // Writes for a message that does not exist (pruned, or never stored) are dropped, as an UPDATE of no row would be.
  const full: Located[] = [];
  const queued: Located[] = [];
  for (const m of merged.values()) {
    const ra = receivedAt.get(m.messageId);
    if (ra !== undefined) (m.onlyIfPending ? queued : full).push({ ...m, receivedAt: ra });
  }
  for (const rows of chunk(full, Math.floor(MAX_PARAMS / FULL_COLUMNS.length), (r) => (r.content?.length ?? 0) + (r.response?.length ?? 0) + (r.error?.length ?? 0))) {
    await trx.raw(...updateSql(ctx.dialect, STAGE_TARGET, FULL_COLUMNS, rows.map(fullValues), fullSets(now), ''));
  }
  for (const rows of chunk(queued, Math.floor(MAX_PARAMS / KEY_COLUMNS.length))) {
    await trx.raw(...updateSql(ctx.dialect, STAGE_TARGET, KEY_COLUMNS, rows.map(keyValues), QUEUED_SETS(now), QUEUED_ONLY));
  }
  const errorRows = errors.flatMap((e) => {
    const ra = receivedAt.get(e.messageId);
    if (ra === undefined) return [];
    return [{ message_id: e.messageId, stage: e.error.stage, attempt: e.error.attempt, error: e.error.error, at: e.error.at, received_at: ra }];
  });
  await insertRows(trx, ERRORS, errorRows);
  const sole = full.filter((f) => f.sole);
  for (const rows of chunk(sole, Math.floor(MAX_PARAMS / SOLE_COLUMNS.length))) {
    await trx.raw(...updateSql(ctx.dialect, MESSAGE_TARGET, SOLE_COLUMNS, rows.map(soleValues), SOLE_SETS(now), ''));
  }
  await recomputeStatus(trx, ctx.dialect, full.filter((f) => !f.sole), now);
}

/** What a batch writes, with several changes to one stage collapsed into one row, applied as if they had run in order. */
export interface WritePlan {
  /** Ids of the messages the batch inserts → received_at. */
  inserted: Map<string, number>;
  /** Rows in MESSAGE_COLUMNS order. */
  messages: unknown[][];
  /** Rows in STAGE_COLUMNS order. */
  stages: unknown[][];
  merged: Map<string, MergedStage>;
  errors: { messageId: string; error: AttemptError }[];
}

export function planWrites(ops: WriteOp[]): WritePlan {
  const plan: WritePlan = { inserted: new Map(), messages: [], stages: [], merged: new Map(), errors: [] };
  for (const op of ops) {
    if (op.kind === 'insert') addMessage(plan, op.message);
    else if (op.kind === 'stage') mergeUpdate(plan.merged, op.update);
    else if (op.kind === 'queued') for (const s of op.stages) mergeQueued(plan.merged, s.messageId, s.stage);
    else plan.errors.push({ messageId: op.messageId, error: op.error });
  }
  return plan;
}

export interface MergedStage {
  messageId: string;
  stage: string;
  /** markQueued: pending → queued only, whatever else happened to the stage meanwhile. */
  onlyIfPending: boolean;
  /** Every update merged here said the message has no other destination (StageUpdate.soleDestination). */
  sole: boolean;
  status: StageStatus;
  content?: string | null;
  response?: string | null;
  error?: string | null;
  attempts?: number;
}

function mergeUpdate(merged: Map<string, MergedStage>, u: StageUpdate): void {
  const key = `${u.messageId}\u0000${u.stage}`;
  const prev = merged.get(key);
  if (!prev || prev.onlyIfPending) {
    merged.set(key, {
      messageId: u.messageId, stage: u.stage, onlyIfPending: false, sole: u.soleDestination === true, status: u.status,
      content: u.content, response: u.response, error: u.error, attempts: u.attempts,
    });
    return;
  }
  prev.sole &&= u.soleDestination === true;
  prev.status = u.status;
  if (u.content !== undefined) prev.content = u.content;
  if (u.response !== undefined) prev.response = u.response;
  if (u.error !== undefined) prev.error = u.error;
  if (u.attempts !== undefined) prev.attempts = u.attempts;
}

function mergeQueued(merged: Map<string, MergedStage>, messageId: string, stage: string): void {
  const key = `${messageId}\u0000${stage}`;
  const prev = merged.get(key);
  if (!prev) merged.set(key, { messageId, stage, onlyIfPending: true, sole: false, status: 'queued' });
  else if (!prev.onlyIfPending && prev.status === 'pending') prev.status = 'queued';
}

export const MESSAGE_COLUMNS = [
  'id', 'channel_id', 'correlation_id', 'status', 'content_type', 'encoding', 'raw', 'received_at', 'updated_at',
  'reprocessed_from', 'content_pruned', 'size', 'output',
] as const;
export const STAGE_COLUMNS = ['message_id', 'name', 'seq', 'kind', 'status', 'content', 'response', 'error', 'attempts', 'updated_at', 'received_at', 'content_from'] as const;

/** stage.content_from of a stage whose content is the message's raw content, stored once (message-store-schema.ts). */
export const CONTENT_FROM_RAW = 'raw';
/** stage.content_from of a stage whose content is the message's `output`: what several of its stages share. */
export const CONTENT_FROM_OUTPUT = 'output';

/** A stored stage's content, wherever it is kept: the stage row `s`, with its message row `m`. */
export function stageContent(s: { content?: string | null; content_from?: string | null }, m: { raw?: string | null; output?: string | null }): string | null {
  if (s.content_from === CONTENT_FROM_RAW) return m.raw ?? null;
  if (s.content_from === CONTENT_FROM_OUTPUT) return m.output ?? null;
  return s.content ?? null;
}

/** stageContent in SQL, for a query joining the stages as `s` to their messages as `m`. */
export const STAGE_CONTENT_SQL = `CASE s.content_from WHEN '${CONTENT_FROM_RAW}' THEN m.raw WHEN '${CONTENT_FROM_OUTPUT}' THEN m.output ELSE s.content END`;

function addMessage(plan: WritePlan, m: NewMessage): void {
  plan.inserted.set(m.id, m.receivedAt);
  const output = sharedOutput(m);
  plan.messages.push([
    m.id, m.channelId, m.correlationId, m.status, m.contentType, m.encoding, m.raw, m.receivedAt, m.receivedAt,
    m.reprocessedFrom ?? null, false, Buffer.byteLength(m.raw, 'utf8'), output ?? null,
  ]);
  m.stages.forEach((s, seq) => {
    // Content that is the raw content (a pass-through destination's) or that several stages share (the transformed
    // output every destination gets) is kept once, on the message.
    const from = !s.content ? null : s.content === m.raw ? CONTENT_FROM_RAW : s.content === output ? CONTENT_FROM_OUTPUT : null;
    plan.stages.push([
      m.id, s.name, seq, s.kind, s.status, from ? null : s.content ?? null, s.response ?? null, s.error ?? null, s.attempts, s.updatedAt,
      m.receivedAt, from,
    ]);
  });
}

/** The content that two or more stages carry (other than the raw content), if any: stored once as the message's output. */
function sharedOutput(m: NewMessage): string | undefined {
  const seen = new Set<string>();
  for (const s of m.stages) {
    if (!s.content || s.content === m.raw) continue;
    if (seen.has(s.content)) return s.content;
    seen.add(s.content);
  }
  return undefined;
}

/** Text length of a row, for the statement size limit. */
export function rowSize(row: unknown[]): number {
  let n = 0;
  for (const v of row) n += typeof v === 'string' ? v.length : 8;
  return n;
}

/** A multi-row INSERT as SQL text with `?` bindings: no query builder work per row. */
export function insertSql(table: string, columns: readonly string[], rows: unknown[][]): [string, Knex.RawBinding[]] {
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  return [`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}`, rows.flat() as Knex.RawBinding[]];
}

/** Multi-row INSERTs, cut to respect bind-parameter and packet limits. */
export async function insertRows(trx: Knex.Transaction, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (!rows.length) return;
  const perRow = Object.keys(rows[0]).length;
  const size = (r: Record<string, unknown>) => Object.values(r).reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : 8), 0);
  for (const part of chunk(rows, Math.floor(MAX_PARAMS / perRow), size)) await trx(table).insert(part);
}

export function chunk<T>(items: T[], maxRows: number, size?: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  const limit = Math.min(maxRows, MAX_ROWS);
  for (const item of items) {
    const n = size ? size(item) : 0;
    if (current.length && (current.length >= limit || bytes + n > MAX_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += n;
  }
  if (current.length) out.push(current);
  return out;
}

async function resolveReceivedAt(trx: Knex.Transaction, ctx: WriteContext, inserted: Map<string, number>, ids: string[], verify: string[]): Promise<Map<string, number>> {
  const known = new Map<string, number>();
  const missing = new Set<string>();
  for (const id of ids) {
    const ra = inserted.get(id) ?? ctx.receivedAtOf(id);
    if (ra !== undefined) known.set(id, ra);
    else missing.add(id);
  }
  for (const id of verify) {
    const ra = inserted.get(id);
    if (ra !== undefined) {
      known.set(id, ra);
    } else {
      known.delete(id);
      missing.add(id);
    }
  }
  for (const part of chunk([...missing], MAX_IDS)) {
    const rows: { id: string; received_at: number | string }[] = await trx(MESSAGES).select('id', 'received_at').whereIn('id', part);
    for (const r of rows) {
      known.set(r.id, Number(r.received_at));
      ctx.remember(r.id, Number(r.received_at));
    }
  }
  return known;
}

export type Located = MergedStage & { receivedAt: number };
export type Column = [name: string, pgType: string];
export const KEY_COLUMNS: Column[] = [['n_message_id', 'varchar'], ['n_name', 'varchar'], ['n_received_at', 'bigint']];
export const FULL_COLUMNS: Column[] = [
  ...KEY_COLUMNS, ['n_status', 'varchar'], ['n_content', 'text'], ['n_hc', 'int'], ['n_response', 'text'], ['n_hr', 'int'],
  ['n_error', 'text'], ['n_he', 'int'], ['n_attempts', 'int'],
];
// "has" flags distinguish "not given, keep" from "given as null, clear".
export const fullSets = (now: number): [string, string][] => [
  ['status', 'v.n_status'],
  ['content', 'CASE WHEN v.n_hc = 1 THEN v.n_content ELSE s.content END'],
  // Content given: the stage has its own from now on.
  ['content_from', 'CASE WHEN v.n_hc = 1 THEN NULL ELSE s.content_from END'],
  ['response', 'CASE WHEN v.n_hr = 1 THEN v.n_response ELSE s.response END'],
  ['error', 'CASE WHEN v.n_he = 1 THEN v.n_error ELSE s.error END'],
  ['attempts', 'COALESCE(v.n_attempts, s.attempts)'],
  ['updated_at', String(now)],
];

export const QUEUED_SETS = (now: number): [string, string][] => [['status', `'queued'`], ['updated_at', String(now)]];
/** markQueued: pending → queued only, whatever else happened to the stage meanwhile. */
export const QUEUED_ONLY = `AND s.status = 'pending'`;

/** A message's status when its only destination stage has this status: what OVERALL_STATUS gives with one destination. */
export function soleDestinationStatus(stage: StageStatus): MessageStatus {
  if (stage === 'error' || stage === 'sent' || stage === 'filtered') return stage;
  return 'queued';
}

export const SOLE_COLUMNS: Column[] = [['n_message_id', 'varchar'], ['n_received_at', 'bigint'], ['n_status', 'varchar']];
export const SOLE_SETS = (now: number): [string, string][] => [['status', 'v.n_status'], ['updated_at', String(now)]];

export function soleValues(r: Located): unknown[] {
  return [r.messageId, r.receivedAt, soleDestinationStatus(r.status)];
}

export function keyValues(r: Located): unknown[] {
  return [r.messageId, r.stage, r.receivedAt];
}

export function fullValues(r: Located): unknown[] {
  const flag = (v: unknown) => (v === undefined ? 0 : 1);
  return [
    ...keyValues(r), r.status, r.content ?? null, flag(r.content), r.response ?? null, flag(r.response),
    r.error ?? null, flag(r.error), r.attempts ?? null,
  ];
}

/** A table updated by updateSql: its key columns, each matched to a column of the inline table `v`. */
export interface UpdateTarget {
  table: string;
  key: [column: string, valueColumn: string][];
}

export const STAGE_TARGET: UpdateTarget = { table: STAGES, key: [['message_id', 'n_message_id'], ['name', 'n_name'], ['received_at', 'n_received_at']] };
export const MESSAGE_TARGET: UpdateTarget = { table: MESSAGES, key: [['id', 'n_message_id'], ['received_at', 'n_received_at']] };

/**
 * One UPDATE of many rows, each with its own values, joined against an inline table `v` (aliased `s`). The join
 * carries received_at (column n_received_at of `v`); the same days repeated as a constant list let PostgreSQL prune
 * partitions at plan time. Without it every row of `v` had to probe every partition, so the planner chose a
 * sequential scan of whole day partitions (growing all day) with a hash join over an index lookup per row.
 */
export function updateSql(dialect: Dialect, target: UpdateTarget, columns: Column[], rows: unknown[][], sets: [string, string][], extra: string): [string, Knex.RawBinding[]] {
  const at = columns.findIndex((c) => c[0] === 'n_received_at');
  const days = [...new Set(rows.map((r) => r[at] as number))];
  const bindings = [...rows.flat(), ...days] as Knex.RawBinding[];
  const keys = target.key.map(([col, v]) => `s.${col} = v.${v}`).join(' AND ');
  const join = `${keys} AND s.received_at IN (${placeholders(days.length)})`;
  const names = columns.map((c) => c[0]).join(', ');
  const assignments = sets.map(([col, expr]) => `${col} = ${expr}`).join(', ');
  if (dialect === 'postgres') {
    const tuple = `(${columns.map((c) => `?::${c[1]}`).join(', ')})`;
    const values = rows.map(() => tuple).join(', ');
    return [`UPDATE ${target.table} AS s SET ${assignments} FROM (VALUES ${values}) AS v(${names}) WHERE ${join} ${extra}`, bindings];
  }
  if (dialect === 'sqlite') {
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    const values = rows.map(() => tuple).join(', ');
    return [`WITH v(${names}) AS (VALUES ${values}) UPDATE ${target.table} AS s SET ${assignments} FROM v WHERE ${join} ${extra}`, bindings];
  }
  // MySQL/MariaDB: no column list on a derived VALUES table in all versions, so a UNION ALL of SELECTs.
  const first = `SELECT ${columns.map((c) => `? AS ${c[0]}`).join(', ')}`;
  const rest = `SELECT ${columns.map(() => '?').join(', ')}`;
  const derived = rows.map((_, i) => (i === 0 ? first : rest)).join(' UNION ALL ');
  const mySets = sets.map(([col, expr]) => `s.${col} = ${expr}`).join(', ');
  return [`UPDATE ${target.table} AS s JOIN (${derived}) AS v ON ${join} SET ${mySets} WHERE 1 = 1 ${extra}`, bindings];
}

/**
 * Overall status from the stages: any destination in error → error; every destination done (sent, or filtered by a
 * destination filter) → sent (filtered if none was sent); otherwise queued. Without destinations: an error or a
 * filter in the source/transformer decides; else the status stays as it was.
 *
 * One statement per chunk, aggregating the stages in the database: reading them back into the process and writing
 * one UPDATE per resulting status cost two to four round trips per group commit instead of one.
 */
export const OVERALL_STATUS = `CASE
  WHEN a.dn > 0 THEN CASE WHEN a.de > 0 THEN 'error' WHEN a.dd = a.dn THEN CASE WHEN a.ds > 0 THEN 'sent' ELSE 'filtered' END ELSE 'queued' END
  WHEN a.ae > 0 THEN 'error'
  WHEN a.af > 0 THEN 'filtered'
  ELSE m.status END`;

/** The per-message counts OVERALL_STATUS reads, over rows with message_id, received_at, kind and status. */
export const STAGE_SUMS = `SELECT message_id, received_at,
      SUM(CASE WHEN kind = 'destination' THEN 1 ELSE 0 END) AS dn,
      SUM(CASE WHEN kind = 'destination' AND status = 'error' THEN 1 ELSE 0 END) AS de,
      SUM(CASE WHEN kind = 'destination' AND status IN ('sent', 'filtered') THEN 1 ELSE 0 END) AS dd,
      SUM(CASE WHEN kind = 'destination' AND status = 'sent' THEN 1 ELSE 0 END) AS ds,
      SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS ae,
      SUM(CASE WHEN status = 'filtered' THEN 1 ELSE 0 END) AS af`;

export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

function stageAggregates(ids: number, days: number): string {
  return `${STAGE_SUMS} FROM ${STAGES} WHERE message_id IN (${placeholders(ids)}) AND received_at IN (${placeholders(days)}) GROUP BY message_id, received_at`;
}

async function recomputeStatus(trx: Knex.Transaction, dialect: Dialect, updated: { messageId: string; receivedAt: number }[], now: number): Promise<void> {
  const receivedAt = new Map(updated.map((u) => [u.messageId, u.receivedAt]));
  for (const ids of chunk([...receivedAt.keys()], MAX_IDS)) {
    const days = [...new Set(ids.map((id) => receivedAt.get(id)!))];
    const aggregates = stageAggregates(ids.length, days.length);
    // The outer lists let PostgreSQL prune partitions at plan time and find the rows by primary key, instead of
    // running the aggregate once per row of a scan.
    const outer = `m.id IN (${placeholders(ids.length)}) AND m.received_at IN (${placeholders(days.length)})`;
    const inner = [...ids, ...days] as Knex.RawBinding[];
    if (dialect === 'mysql') {
      await trx.raw(`UPDATE ${MESSAGES} AS m JOIN (${aggregates}) AS a ON m.id = a.message_id AND m.received_at = a.received_at
        SET m.status = ${OVERALL_STATUS}, m.updated_at = ? WHERE ${outer}`, [...inner, now, ...inner]);
    } else {
      await trx.raw(`UPDATE ${MESSAGES} AS m SET status = ${OVERALL_STATUS}, updated_at = ? FROM (${aggregates}) AS a
        WHERE m.id = a.message_id AND m.received_at = a.received_at AND ${outer}`, [now, ...inner, ...inner]);
    }
  }
}
