import type { Knex } from 'knex';
import { pgStatement, preparedOn, sqliteConnectionOf } from './prepared-statements';
import type { IndexTableRows } from './search-index-port';
import type { StoreDialect } from './store-dialect';

/** One version of a resource as the store writes it: its rows in fhir_resources, fhir_history, the index, the outbox. */
export interface VersionWrite {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  content: string;
  method: string;
  action: string;
  correlationId: string | null;
  /** The version read under the row lock: the current row is updated only while it still is that one. */
  previous?: number;
  /** This version's index rows (none on a delete). */
  index: IndexTableRows[];
  /** Index tables to remove the previous version's rows from first; none for a first version. */
  clearIndex: readonly string[];
  /**
   * Rows of other tables that commit with this version and only if it is written (its audit record): in the same
   * statement on PostgreSQL, after the version elsewhere. Several rows of one table get serial ids in no set order.
   */
  companions?: IndexTableRows[];
}

const VERSION_COLUMNS = ['resource_type', 'id', 'version_id', 'last_updated', 'deleted', 'content'];
const OUTBOX_COLUMNS = ['resource_type', 'resource_id', 'version_id', 'action', 'correlation_id', 'created_at'];
/**
 * Bound values per statement, far below PostgreSQL's 65,535 and SQLite's 32,766: a resource with thousands of index
 * rows (a large Questionnaire, ValueSet) is written in several statements.
 */
const MAX_BINDINGS = 20_000;

interface Sql {
  sql: string;
  bindings: Knex.Value[];
}

/**
 * Writes a version with as few round trips as the dialect allows, each statement's SQL text built once per shape and
 * reused. PostgreSQL gets one statement: data-modifying CTEs write the current row, the history row (from the
 * current row's RETURNING, so the content travels once), the index rows and the outbox row together; the
 * compare-and-set on the current row gates the history and outbox rows, and all sub-statements see the same snapshot,
 * so deleting the old index rows cannot touch the new ones. SQLite and MySQL/MariaDB, which have no data-modifying
 * CTEs, run the same statements one by one as plain SQL; SQL Server and Oracle go through knex's builder, which knows
 * their quoting and multi-row insert forms. Returns false when the compare-and-set found another version (a writer
 * that got past the row lock), having written nothing that outlives the caller's rollback.
 */
export async function writeVersion(trx: Knex.Transaction, dialect: StoreDialect, w: VersionWrite): Promise<boolean> {
  if (dialect.name === 'postgres') return (await writeInOneStatement(trx, w)) ?? false;
  if (dialect.plainSql) return writeOneByOne(trx, dialect, w);
  return writeWithBuilder(trx, w);
}

/**
 * A version that is all its transaction would hold, written as one statement in autocommit, which is atomic by
 * itself: no BEGIN and COMMIT round trips. PostgreSQL only; undefined (nothing written) where the version cannot be
 * one statement (another dialect, index rows beyond one statement's bindings), for the caller to use a transaction.
 */
export async function writeVersionAlone(db: Knex, dialect: StoreDialect, w: VersionWrite): Promise<boolean | undefined> {
  if (dialect.name !== 'postgres') return undefined;
  return writeInOneStatement(db, w, true);
}

/** undefined only when `alone` and the version does not fit one statement: nothing was written then. */
async function writeInOneStatement(q: Knex | Knex.Transaction, w: VersionWrite, alone = false): Promise<boolean | undefined> {
  const parts: string[] = [];
  const bindings: Knex.Value[] = [];
  if (w.previous === undefined) {
    parts.push(`v AS (${insertSql('fhir_resources', VERSION_COLUMNS, 1)} RETURNING ${VERSION_COLUMNS.join(', ')})`);
    bindings.push(...versionBindings(w));
  } else {
    parts.push(`v AS (${UPDATE_CURRENT} RETURNING ${VERSION_COLUMNS.join(', ')})`);
    bindings.push(...updateBindings(w, w.previous));
  }
  // In a transaction a failed compare-and-set rolls everything back. Alone (autocommit) nothing would: every
  // sub-statement of an update is then gated on v, the row the compare-and-set wrote, as history and outbox are.
  const gated = alone && w.previous !== undefined;
  parts.push(`h AS (INSERT INTO fhir_history (${VERSION_COLUMNS.join(', ')}, method) SELECT ${VERSION_COLUMNS.join(', ')}, CAST(? AS varchar) FROM v)`);
  bindings.push(w.method);
  w.clearIndex.forEach((table, i) => {
    parts.push(`d${i} AS (DELETE FROM ${table} WHERE resource_type = ? AND resource_id = ?${gated ? ` AND ${VERSION_WRITTEN}` : ''})`);
    bindings.push(w.resourceType, w.id);
  });
  // Index rows beyond the statement's binding budget (a huge resource) follow in statements of their own.
  const later: Sql[] = [];
  for (const chunk of gated ? gatedRows(w.index) : indexChunks(w.index)) {
    if (later.length === 0 && bindings.length + chunk.bindings.length + 3 <= MAX_BINDINGS) {
      parts.push(`x${parts.length} AS (${chunk.sql})`);
      bindings.push(...chunk.bindings);
    } else {
      later.push(chunk);
    }
  }
  // Companions (the audit record) are always gated: no record of a version the compare-and-set did not write.
  // What companions ask back is learnt only alone: in a transaction a later statement could still roll them back.
  const returning: string[] = [];
  for (const [t, companion] of (w.companions ?? []).entries()) {
    const asked = alone ? companion.returning : undefined;
    const names: string[] = [];
    for (const row of gatedRows([companion])) {
      names.push(`c${parts.length}`);
      parts.push(`c${parts.length} AS (${row.sql}${asked ? ` RETURNING ${asked.join(', ')}` : ''})`);
      bindings.push(...row.bindings);
    }
    if (asked && names.length > 0) {
      returning.push(`(SELECT json_agg(r) FROM (${names.map((n) => `SELECT * FROM ${n}`).join(' UNION ALL ')}) r) AS r${t}`);
    }
  }
  if (alone && (later.length > 0 || bindings.length + 3 > MAX_BINDINGS)) return undefined;
  const outbox = `INSERT INTO fhir_outbox (${OUTBOX_COLUMNS.join(', ')}) SELECT resource_type, id, version_id, CAST(? AS varchar), CAST(? AS varchar), CAST(? AS bigint) FROM v`;
  bindings.push(w.action, w.correlationId, Date.now());
  const result = await pgStatement(q, `WITH ${parts.join(', ')} ${outbox}${returning.length ? ` RETURNING ${returning.join(', ')}` : ''}`, bindings);
  if (result?.rowCount !== 1) return false;
  if (alone) {
    for (const [t, companion] of (w.companions ?? []).entries()) {
      if (companion.returning) companion.returned = (result.rows[0]?.[`r${t}`] as Array<Record<string, unknown>> | null) ?? [];
    }
  }
  for (const s of later) await q.raw(s.sql, s.bindings);
  return true;
}

/** A sub-statement's condition that the compare-and-set (CTE `v`) wrote the version. */
const VERSION_WRITTEN = 'EXISTS (SELECT 1 FROM v)';

/**
 * One `INSERT … SELECT ?, … WHERE EXISTS (SELECT 1 FROM v)` per row: PostgreSQL types the parameters of a plain
 * INSERT … SELECT from the target columns, which a VALUES list in FROM would leave as text.
 */
function* gatedRows(tables: IndexTableRows[]): Generator<Sql> {
  for (const { table, columns, values } of tables) {
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.map(() => '?').join(', ')} WHERE ${VERSION_WRITTEN}`;
    for (const v of values) yield { sql, bindings: v };
  }
}

/** Runs one statement, answering the rows it changed. */
type Run = (sql: string, bindings: Knex.Value[]) => Promise<number>;

/**
 * On SQLite the statements run on the transaction's better-sqlite3 connection, each prepared once
 * (prepared-statements.ts): a write is seven to fifteen statements there, and knex preparing every one anew cost
 * more than SQLite running it.
 */
async function runnerFor(trx: Knex.Transaction, dialect: StoreDialect): Promise<Run> {
  const sqlite = await sqliteConnectionOf(trx);
  if (sqlite) return async (sql, bindings) => preparedOn(sqlite, sql).run(...bindings.map((b) => (typeof b === 'boolean' ? Number(b) : b))).changes;
  return async (sql, bindings) => changedRows(dialect, await trx.raw(sql, bindings));
}

async function writeOneByOne(trx: Knex.Transaction, dialect: StoreDialect, w: VersionWrite): Promise<boolean> {
  const run = await runnerFor(trx, dialect);
  if (w.previous === undefined) await run(insertSql('fhir_resources', VERSION_COLUMNS, 1), versionBindings(w));
  else if ((await run(UPDATE_CURRENT, updateBindings(w, w.previous))) !== 1) return false;
  await run(insertSql('fhir_history', [...VERSION_COLUMNS, 'method'], 1), [...versionBindings(w), w.method]);
  for (const table of w.clearIndex) await run(`DELETE FROM ${table} WHERE resource_type = ? AND resource_id = ?`, [w.resourceType, w.id]);
  for (const s of indexChunks(w.index)) await run(s.sql, s.bindings);
  await run(insertSql('fhir_outbox', OUTBOX_COLUMNS, 1), outboxBindings(w));
  for (const c of w.companions ?? []) await run(insertSql(c.table, c.columns, c.values.length), c.values.flat());
  return true;
}

async function writeWithBuilder(trx: Knex.Transaction, w: VersionWrite): Promise<boolean> {
  const row = { version_id: w.versionId, last_updated: w.lastUpdated, deleted: w.deleted, content: w.content };
  if (w.previous === undefined) {
    await trx('fhir_resources').insert({ resource_type: w.resourceType, id: w.id, ...row });
  } else {
    const n = await trx('fhir_resources').where({ resource_type: w.resourceType, id: w.id, version_id: w.previous }).update(row);
    if (n !== 1) return false;
  }
  await trx('fhir_history').insert({ resource_type: w.resourceType, id: w.id, ...row, method: w.method });
  for (const table of w.clearIndex) await trx(table).where({ resource_type: w.resourceType, resource_id: w.id }).delete();
  for (const { table, columns, values } of w.index) {
    for (let i = 0; i < values.length; i += 200) {
      await trx(table).insert(values.slice(i, i + 200).map((v) => Object.fromEntries(columns.map((c, j) => [c, v[j]]))));
    }
  }
  const outbox = outboxBindings(w);
  await trx('fhir_outbox').insert(Object.fromEntries(OUTBOX_COLUMNS.map((c, i) => [c, outbox[i]])));
  for (const { table, columns, values } of w.companions ?? []) {
    await trx(table).insert(values.map((v) => Object.fromEntries(columns.map((c, j) => [c, v[j]]))));
  }
  return true;
}

const UPDATE_CURRENT = 'UPDATE fhir_resources SET version_id = ?, last_updated = ?, deleted = ?, content = ? WHERE resource_type = ? AND id = ? AND version_id = ?';

function updateBindings(w: VersionWrite, previous: number): Knex.Value[] {
  return [w.versionId, w.lastUpdated, w.deleted, w.content, w.resourceType, w.id, previous];
}

function outboxBindings(w: VersionWrite): Knex.Value[] {
  return [w.resourceType, w.id, w.versionId, w.action, w.correlationId, Date.now()];
}

function versionBindings(w: VersionWrite): Knex.Value[] {
  return [w.resourceType, w.id, w.versionId, w.lastUpdated, w.deleted, w.content];
}

/** Rows a statement changed, from each driver's raw result. */
function changedRows(dialect: StoreDialect, result: unknown): number {
  if (dialect.name === 'mysql') return Number((result as [{ affectedRows: number }])[0].affectedRows);
  return Number((result as { changes: number }).changes);
}

/** Multi-row INSERTs of the index rows, split so that none binds more than MAX_BINDINGS values. */
function* indexChunks(index: IndexTableRows[]): Generator<Sql> {
  for (const { table, columns, values } of index) {
    const perStatement = Math.floor(MAX_BINDINGS / columns.length);
    for (let i = 0; i < values.length; i += perStatement) {
      const rows = values.slice(i, i + perStatement);
      yield { sql: insertSql(table, columns, rows.length), bindings: rows.flat() };
    }
  }
}

const insertSqlCache = new Map<string, string>();

/** `INSERT INTO table (columns) VALUES (?, …), …` for `rows` rows, built once per shape. */
function insertSql(table: string, columns: readonly string[], rows: number): string {
  const key = `${table}:${rows}`;
  let sql = insertSqlCache.get(key);
  if (sql === undefined) {
    const row = `(${columns.map(() => '?').join(', ')})`;
    sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`;
    // Shapes are bounded (7 tables × rows per resource), but a pathological resource must not grow this forever.
    if (insertSqlCache.size < 2000) insertSqlCache.set(key, sql);
  }
  return sql;
}
