import { Knex } from 'knex';
import { MESSAGES, STAGES } from './message-store-schema';
import {
  FULL_COLUMNS, fullSets, fullValues, insertSql, KEY_COLUMNS, keyValues, Located, MAX_BYTES, MAX_PARAMS, MAX_ROWS,
  MESSAGE_COLUMNS, MESSAGE_TARGET, OVERALL_STATUS, placeholders, QUEUED_ONLY, QUEUED_SETS, rowSize, SOLE_COLUMNS, SOLE_SETS,
  soleValues, STAGE_COLUMNS, STAGE_SUMS, STAGE_TARGET, updateSql, WriteContext, WritePlan,
} from './message-writes';

/**
 * PostgreSQL: a whole batch — new messages with their stages, and changes to stored ones — as one statement in
 * autocommit: the INSERTs become data-modifying CTEs in front of the changes statement. One round trip instead of
 * BEGIN, two INSERTs, the changes and COMMIT. On this kind of machine (a VM where every wake-up of the database
 * process costs) those five sequential round trips took 15–40 ms per batch at only 200 messages/s, and the sender's
 * acknowledgement waits for them.
 *
 * All parts share one snapshot, so a change to a message inserted by the same batch would not see its row; the
 * engine never does that (it dispatches a message only after its insert committed), and such a batch goes the
 * general way. Undefined also for attempt errors and batches beyond one statement's limits.
 */
export function pgBatchStatement(ctx: WriteContext, plan: WritePlan, now: number): [string, Knex.RawBinding[]] | undefined {
  if (plan.errors.length) return undefined;
  if (!plan.inserted.size) return pgChangesStatement(ctx, plan, now);
  for (const m of plan.merged.values()) if (plan.inserted.has(m.messageId)) return undefined;
  const params = plan.messages.length * MESSAGE_COLUMNS.length + plan.stages.length * STAGE_COLUMNS.length;
  const bytes = plan.messages.reduce((n, r) => n + rowSize(r), 0) + plan.stages.reduce((n, r) => n + rowSize(r), 0);
  if (params > MAX_PARAMS / 2 || bytes > MAX_BYTES / 2 || plan.messages.length > MAX_ROWS) return undefined;
  const inserts = ([[MESSAGES, MESSAGE_COLUMNS, plan.messages], [STAGES, STAGE_COLUMNS, plan.stages]] as const)
    .filter(([, , rows]) => rows.length).map(([table, columns, rows]) => insertSql(table, columns, rows));
  let changes: [string, Knex.RawBinding[]] | undefined;
  if (plan.merged.size) {
    changes = pgChangesStatement(ctx, plan, now);
    if (!changes) return undefined;
  }
  const main = changes ?? inserts.pop()!;
  const ctes = inserts.map(([sql], i) => `i${i} AS (${sql})`).join(', ');
  const sql = main[0].startsWith('WITH ') ? `WITH ${ctes}, ${main[0].slice(5)}` : `WITH ${ctes} ${main[0]}`;
  return [sql, [...inserts.flatMap(([, b]) => b), ...main[1]]];
}

/**
 * PostgreSQL: a batch's changes to stored messages as one statement — the stage updates as data-modifying CTEs, the
 * status recompute as the main UPDATE — where the general path pays one statement per kind of change plus the
 * recompute. Without new messages in the batch it runs alone in autocommit, sparing BEGIN and COMMIT as well.
 *
 * Every part of a statement sees the same snapshot, so the recompute cannot read the stages its own UPDATEs wrote:
 * it takes the changed rows from their RETURNING and the messages' other stages from the table. Stages inserted by
 * the same batch are visible only when the INSERTs ran before, in the same transaction. A message whose only
 * destination changed (MergedStage.sole) skips the recompute: its status is set from the stage's, which planned in
 * half the time and ran without the aggregate (bench/engine-throughput.ts).
 * Returns undefined for attempt errors, a message whose received_at only the database knows, nothing to change, or
 * more than one statement's limits: the general path handles those.
 */
export function pgChangesStatement(ctx: WriteContext, plan: WritePlan, now: number): [string, Knex.RawBinding[]] | undefined {
  if (plan.errors.length || !plan.merged.size || plan.merged.size > MAX_ROWS) return undefined;
  const full: Located[] = [];
  const queued: Located[] = [];
  for (const m of plan.merged.values()) {
    const receivedAt = plan.inserted.get(m.messageId) ?? ctx.receivedAtOf(m.messageId);
    if (receivedAt === undefined) return undefined;
    (m.onlyIfPending ? queued : full).push({ ...m, receivedAt });
  }
  const fullRows = full.map(fullValues);
  const queuedRows = queued.map(keyValues);
  const sole = full.filter((f) => f.sole);
  const recomputed = full.filter((f) => !f.sole);
  const ids = [...new Set(recomputed.map((f) => f.messageId))];
  const days = [...new Set(recomputed.map((f) => f.receivedAt))];
  const params = fullRows.length * FULL_COLUMNS.length + queuedRows.length * KEY_COLUMNS.length + sole.length * SOLE_COLUMNS.length
    + 2 * (full.length + queued.length) + 2 * (ids.length + days.length);
  if (params > MAX_PARAMS || fullRows.reduce((n, r) => n + rowSize(r), 0) > MAX_BYTES) return undefined;

  // Each write is a CTE w<i>; the last part is the main statement. Data-modifying CTEs run to completion whether
  // or not anything reads them.
  const parts: [sql: string, bindings: Knex.RawBinding[]][] = [];
  const changed: string[] = [];
  // Only the recompute reads what the stage UPDATEs changed.
  const stageUpdate = (sql: string, b: Knex.RawBinding[]) => {
    if (!ids.length) {
      parts.push([sql, b]);
      return;
    }
    changed.push(`SELECT message_id, name, received_at, kind, status FROM w${parts.length}`);
    parts.push([`${sql} RETURNING s.message_id, s.name, s.received_at, s.kind, s.status`, b]);
  };
  if (fullRows.length) stageUpdate(...updateSql('postgres', STAGE_TARGET, FULL_COLUMNS, fullRows, fullSets(now), ''));
  if (queuedRows.length) stageUpdate(...updateSql('postgres', STAGE_TARGET, KEY_COLUMNS, queuedRows, QUEUED_SETS(now), QUEUED_ONLY));
  if (ids.length) {
    // The changed stages as they are now, and the messages' other stages as the snapshot has them.
    const within = (id: string, ra: string) => `${id} IN (${placeholders(ids.length)}) AND ${ra} IN (${placeholders(days.length)})`;
    parts.push([`SELECT * FROM (${changed.join(' UNION ALL ')}) AS c`, []]);
    const c = `w${parts.length - 1}`;
    parts.push([`${STAGE_SUMS} FROM (
        SELECT message_id, received_at, kind, status FROM ${c}
        UNION ALL
        SELECT s.message_id, s.received_at, s.kind, s.status FROM ${STAGES} AS s
        WHERE ${within('s.message_id', 's.received_at')}
          AND NOT EXISTS (SELECT 1 FROM ${c} AS c WHERE c.message_id = s.message_id AND c.name = s.name AND c.received_at = s.received_at)
      ) AS t GROUP BY message_id, received_at`, [...ids, ...days]]);
    parts.push([`UPDATE ${MESSAGES} AS m SET status = ${OVERALL_STATUS}, updated_at = ? FROM w${parts.length - 1} AS a
      WHERE m.id = a.message_id AND m.received_at = a.received_at AND ${within('m.id', 'm.received_at')}`, [now, ...ids, ...days]]);
  }
  if (sole.length) parts.push(updateSql('postgres', MESSAGE_TARGET, SOLE_COLUMNS, sole.map(soleValues), SOLE_SETS(now), ''));
  const main = parts.pop()!;
  if (!parts.length) return main;
  return [`WITH ${parts.map(([sql], i) => `w${i} AS (${sql})`).join(', ')} ${main[0]}`, [...parts.flatMap(([, b]) => b), ...main[1]]];
}
