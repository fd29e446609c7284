import type { Knex } from 'knex';
import type { IndexTableRows } from './search-index-port';
import type { VersionWrite } from './version-writer';

const VERSION_RECORD = 'n int, resource_type varchar, id varchar, previous int, version_id int, last_updated varchar, deleted boolean, content text, method varchar, action varchar, correlation_id varchar, created_at bigint';
const VERSION_COLUMNS = 'resource_type, id, version_id, last_updated, deleted, content';

export interface VersionsStatement {
  sql: string;
  /** Values, and for columns passed as arrays (IndexTableRows.pgTypes) arrays of values. */
  bindings: Array<Knex.Value | Knex.Value[]>;
  /** The `Type/id` of the replaced versions whose compare-and-set held, from the statement's one row. */
  updated(row: Record<string, unknown> | undefined): Set<string>;
  /** Hands each companion that asks for it (`returning`) its own inserted rows, from the statement's one row. */
  returnCompanions(row: Record<string, unknown> | undefined): void;
}

/**
 * One PostgreSQL statement for many versions, its text fixed by which kinds of rows it writes (so that it is prepared
 * once per shape, not per size): the versions as one JSON array (`u`), each table's rows as one JSON array read into
 * the table's own row type. New versions are inserted, replaced ones updated with a compare-and-set on the version
 * read, and the old index rows of replaced versions deleted; every sub-statement sees the snapshot from before the
 * statement, so the deletes cannot touch the new index rows.
 *
 * In a transaction (deferred-versions.ts) a lost compare-and-set is told by `updated` and the caller rolls back. In
 * autocommit (`alone`, alone-batch.ts) nothing would roll back the other rows, so the statement fails instead:
 * a division by zero unless every compare-and-set held. Only the versions' writers know all the index tables a
 * replaced version clears: the writes must agree on them (`sameClearedTables`).
 */
export function versionsStatement(writes: VersionWrite[], alone = false): VersionsStatement {
  const now = Date.now();
  const versions = writes.map((w, n) => ({
    n, resource_type: w.resourceType, id: w.id, previous: w.previous ?? null, version_id: w.versionId, last_updated: w.lastUpdated,
    deleted: w.deleted, content: w.content, method: w.method, action: w.action, correlation_id: w.correlationId, created_at: now,
  }));
  const creates = writes.some((w) => w.previous === undefined);
  const replaced = writes.filter((w) => w.previous !== undefined).length;
  const parts = [`u AS MATERIALIZED (SELECT * FROM json_to_recordset(CAST(? AS json)) AS u(${VERSION_RECORD}))`];
  const bindings: Array<Knex.Value | Knex.Value[]> = [JSON.stringify(versions)];
  if (creates) parts.push(`vc AS (INSERT INTO fhir_resources (${VERSION_COLUMNS}) SELECT ${VERSION_COLUMNS} FROM u WHERE previous IS NULL)`);
  if (replaced > 0) {
    parts.push('vu AS (UPDATE fhir_resources r SET version_id = u.version_id, last_updated = u.last_updated, deleted = u.deleted, content = u.content'
      + ' FROM u WHERE u.previous IS NOT NULL AND r.resource_type = u.resource_type AND r.id = u.id AND r.version_id = u.previous RETURNING r.resource_type, r.id)');
  }
  parts.push(`h AS (INSERT INTO fhir_history (${VERSION_COLUMNS}, method) SELECT ${VERSION_COLUMNS}, method FROM u)`);
  parts.push('o AS (INSERT INTO fhir_outbox (resource_type, resource_id, version_id, action, correlation_id, created_at)'
    + ' SELECT resource_type, id, version_id, action, correlation_id, created_at FROM u ORDER BY n)');
  const cleared = writes.find((w) => w.clearIndex.length > 0)?.clearIndex ?? [];
  cleared.forEach((table, i) => {
    parts.push(`d${i} AS (DELETE FROM ${table} t USING u WHERE u.previous IS NOT NULL AND t.resource_type = u.resource_type AND t.resource_id = u.id)`);
  });
  const companions = writes.flatMap((w) => w.companions ?? []);
  const tables = byTable([...writes.flatMap((w) => w.index), ...companions]);
  const selected = [replaced > 0 ? `ARRAY(SELECT resource_type || '/' || id FROM vu) AS updated` : 'CAST(NULL AS text[]) AS updated'];
  // What companions ask back is learnt only alone: in a transaction a later statement could still roll them back.
  const asking = alone ? new Set(companions.filter((c) => c.returning).map((c) => tableKey(c))) : new Set<string>();
  const returnedFrom: Array<{ key: string; column: string; t: IndexTableRows }> = [];
  tables.forEach((t, i) => {
    const key = tableKey(t);
    const asked = asking.has(key) ? companions.find((c) => tableKey(c) === key)!.returning! : undefined;
    const columns = t.columns.join(', ');
    const source = t.pgTypes
      ? `unnest(${t.pgTypes.map((type) => `CAST(? AS ${type}[])`).join(', ')}) AS r(${columns})`
      : `json_populate_recordset(CAST(NULL AS ${t.table}), CAST(? AS json))`;
    parts.push(`x${i} AS (INSERT INTO ${t.table} (${columns}) SELECT ${columns} FROM ${source}${asked ? ` RETURNING ${asked.join(', ')}` : ''})`);
    if (t.pgTypes) bindings.push(...columnArrays(t.columns.length, t.values));
    else bindings.push(rowsJson(t.columns, t.values));
    if (asked) {
      selected.push(`(SELECT json_agg(r) FROM x${i} r) AS r${i}`);
      returnedFrom.push({ key, column: `r${i}`, t });
    }
  });
  if (alone && replaced > 0) {
    selected.push('1 / CASE WHEN (SELECT count(*) FROM vu) = CAST(? AS int) THEN 1 ELSE 0 END AS all_replaced');
    bindings.push(replaced);
  }
  return {
    sql: `WITH ${parts.join(', ')} SELECT ${selected.join(', ')}`,
    bindings,
    updated: (row) => new Set((row?.updated as string[] | null) ?? []),
    returnCompanions: (row) => {
      for (const { key, column, t } of returnedFrom) {
        hand(companions.filter((c) => tableKey(c) === key), t.columns, (row?.[column] as Array<Record<string, unknown>> | null) ?? []);
      }
    },
  };
}

/**
 * Each companion's rows back from the merged insert, told apart by the values it inserted (an audit record's
 * content is unique to its write). A companion whose rows cannot all be found, because its table does not return
 * the inserted columns, gets none: its owner then looks for them itself (audit-log.ts `seal`).
 */
function hand(companions: IndexTableRows[], columns: readonly string[], rows: Array<Record<string, unknown>>): void {
  const byValues = new Map<string, Array<Record<string, unknown>>>();
  for (const row of rows) {
    const key = JSON.stringify(columns.map((c) => row[c]));
    const list = byValues.get(key);
    if (list) list.push(row);
    else byValues.set(key, [row]);
  }
  for (const companion of companions) {
    const own = companion.values.map((v) => byValues.get(JSON.stringify(v))?.shift());
    companion.returned = own.every((r) => r !== undefined) ? (own as Array<Record<string, unknown>>) : undefined;
  }
}

/**
 * The rows as a JSON array of objects keyed by column, written directly: building an object per row for
 * JSON.stringify took twice as long, and a group commit's statement carries a thousand rows or more.
 * An undefined value is written as null, which json_populate_recordset reads as the missing key it was.
 */
function rowsJson(columns: readonly string[], values: IndexTableRows['values']): string {
  const keys = columns.map((c) => `${JSON.stringify(c)}:`);
  let out = '[';
  for (let r = 0; r < values.length; r++) {
    const row = values[r];
    out += r === 0 ? '{' : ',{';
    for (let j = 0; j < keys.length; j++) {
      const value = row[j];
      out += `${j === 0 ? '' : ','}${keys[j]}${value === undefined ? 'null' : JSON.stringify(value)}`;
    }
    out += '}';
  }
  return `${out}]`;
}

/** The rows as one array per column (the driver sends each as a PostgreSQL array); undefined is written as null. */
function columnArrays(width: number, values: IndexTableRows['values']): Knex.Value[][] {
  const arrays: Knex.Value[][] = [];
  for (let j = 0; j < width; j++) {
    const column = new Array<Knex.Value>(values.length);
    for (let r = 0; r < values.length; r++) column[r] = values[r][j] ?? null;
    arrays.push(column);
  }
  return arrays;
}

function tableKey(t: IndexTableRows): string {
  return `${t.table}(${t.columns.join(',')})`;
}

/** Rows of all versions merged per table (and column list), tables in name order so that a shape has one text. */
function byTable(tables: IndexTableRows[]): IndexTableRows[] {
  const merged = new Map<string, IndexTableRows>();
  for (const t of tables) {
    if (t.values.length === 0) continue;
    const key = tableKey(t);
    const into = merged.get(key);
    if (into) into.values.push(...t.values);
    else merged.set(key, { table: t.table, columns: t.columns, pgTypes: t.pgTypes, values: [...t.values] });
  }
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
}

/** The index tables every version with a previous one clears: one list for the whole statement. */
export function sameClearedTables(writes: VersionWrite[]): boolean {
  const lists = writes.filter((w) => w.clearIndex.length > 0).map((w) => w.clearIndex.join(','));
  return lists.every((l) => l === lists[0]);
}
