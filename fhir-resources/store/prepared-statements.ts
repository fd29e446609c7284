import type { Knex } from 'knex';
import { dialectOf, sqliteReadWorkersOf } from '../../engine/db';
import { sqliteFileOf } from '../../engine/sqlite-checkpointer';
import { pgReadBatcherOf } from './pg-read-batch';
import { SqliteReadPool } from './sqlite-read-pool';

/**
 * The store's hottest statements (a read by id, the audit record every read writes) without knex's query builder:
 * on SQLite a better-sqlite3 statement prepared once per connection (knex prepares every query anew, and compiling
 * SQL was a tenth of a read's CPU), on PostgreSQL a named prepared statement (parsed and planned once per pooled
 * connection). Other databases keep to knex.
 */

/** The part of better-sqlite3 used here (the package ships no types). */
export interface SqliteStatement {
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Array<Record<string, unknown>>;
  run(...params: unknown[]): { changes: number };
}

interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  pragma(text: string): unknown;
  open: boolean;
}

interface PgConnection {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: Array<Record<string, unknown>>; rowCount: number | null }>;
}

interface KnexClientInternals {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  destroy(...args: unknown[]): Promise<unknown>;
  connectionSettings?: { filename?: string };
  driver?: new (filename: string, options?: object) => SqliteConnection;
}

const statements = new WeakMap<object, Map<string, SqliteStatement>>();
/** Search SQL differs with each shape of query: the cache is bounded, and simply starts over when full. */
const MAX_STATEMENTS = 500;

/** `sql` prepared on `connection`, once. */
export function preparedOn(connection: SqliteConnection, sql: string): SqliteStatement {
  let byText = statements.get(connection);
  if (!byText) statements.set(connection, (byText = new Map()));
  let statement = byText.get(sql);
  if (!statement) {
    if (byText.size >= MAX_STATEMENTS) byText.clear();
    byText.set(sql, (statement = connection.prepare(sql)));
  }
  return statement;
}

function clientOf(q: Knex | Knex.Transaction): KnexClientInternals {
  return q.client as unknown as KnexClientInternals;
}

/**
 * The better-sqlite3 connection a knex transaction holds, for statements that must run in it; undefined on other
 * databases. knex's transaction client hands out its own connection and nobody else's.
 */
export async function sqliteConnectionOf(trx: Knex.Transaction): Promise<SqliteConnection | undefined> {
  if (dialectOf(trx as unknown as Knex) !== 'sqlite') return undefined;
  return (await clientOf(trx).acquireConnection()) as SqliteConnection;
}

const readers = new WeakMap<Knex, SqliteConnection | null>();
const pools = new WeakMap<Knex, SqliteReadPool | null>();

/** The worker threads that read `db`'s file (sqlite-read-pool.ts), where the main thread's reader would. */
function sqlitePoolOf(db: Knex): SqliteReadPool | undefined {
  const known = pools.get(db);
  if (known !== undefined) return known ?? undefined;
  let pool: SqliteReadPool | null = null;
  const workers = sqliteReadWorkersOf(db);
  const file = sqliteFileOf(db);
  if (workers > 0 && file) {
    const client = clientOf(db);
    pool = new SqliteReadPool(file, require.resolve('better-sqlite3'), workers);
    // The pool's workers end with the database: knex's destroy destroys its client, which closes them first.
    const clientDestroy = client.destroy.bind(client);
    client.destroy = (...args: unknown[]) => {
      pool!.close();
      return clientDestroy(...args);
    };
  }
  pools.set(db, pool);
  return pool ?? undefined;
}

/**
 * A second connection to the SQLite file for reads outside transactions. knex has one connection to SQLite, which a
 * write or an audit batch holds across awaits; under WAL a reader sees exactly what has committed, so reads need
 * not queue behind writers (as on PostgreSQL). None for an in-memory database, which another connection cannot see.
 */
function sqliteReader(db: Knex): SqliteConnection | undefined {
  const known = readers.get(db);
  if (known !== undefined) return known?.open ? known : undefined;
  const client = clientOf(db);
  const file = sqliteFileOf(db);
  let reader: SqliteConnection | null = null;
  if (file && client.driver) {
    reader = new client.driver(file, { fileMustExist: true });
    reader.pragma('busy_timeout = 5000');
    reader.pragma('query_only = ON');
    // SQLite's default 2 MB page cache holds less than the interior pages of the indexes a chart search descends
    // (resources by id, combo, date, token: random UUID keys), so each search re-read some of them; 64 MB keeps them
    // between the commits that reset a reader's cache (measured: chart search +6%, p99 40-42 -> 36-37 ms).
    reader.pragma('cache_size = -65536');
  }
  readers.set(db, reader);
  return reader ?? undefined;
}

/**
 * Rows of a knex query run outside any transaction on SQLite's read connection, its statement prepared once per SQL
 * text (a chart search's SQL took longer to compile than to run); undefined elsewhere, where the caller runs the
 * query through knex.
 */
export async function sqliteReaderRows(db: Knex, query: Knex.QueryBuilder): Promise<Array<Record<string, unknown>> | undefined> {
  if (!sqliteReadable(db)) return undefined;
  const { sql, bindings } = query.toSQL().toNative();
  return sqliteRows(db, sql, bindings as unknown[]);
}

/** Whether `db` may read SQLite outside knex: outside a transaction, on a file (another connection sees it). */
function sqliteReadable(db: Knex): boolean {
  return !(db as Knex & { isTransaction?: boolean }).isTransaction && sqliteFileOf(db) !== undefined;
}

/**
 * Rows of `sql` on the read workers, or where there are none on this thread's read connection (undefined if that
 * cannot open); bindings converted as knex's better-sqlite3 client converts them.
 */
function sqliteRows(db: Knex, sql: string, bindings: unknown[]): Array<Record<string, unknown>> | Promise<Array<Record<string, unknown>>> | undefined {
  const params = bindings.map((b) => (b instanceof Date ? b.valueOf() : typeof b === 'boolean' ? Number(b) : b));
  const pool = sqlitePoolOf(db);
  if (pool) return pool.rows(sql, params);
  const reader = sqliteReader(db);
  return reader ? preparedOn(reader, sql).all(...params) : undefined;
}

/**
 * Rows of a knex query run outside any transaction as a PostgreSQL named statement, named after its SQL text: parsed
 * once per pooled connection, and after five runs planned once (a generic plan) where PostgreSQL finds that as good.
 * Only for queries whose best plan does not depend on their values. Undefined on other databases or inside a
 * transaction, where the caller runs the query through knex; past PG_NAMED_LIMIT texts it runs unnamed.
 */
export async function pgNamedRows(db: Knex, query: Knex.QueryBuilder): Promise<Array<Record<string, unknown>> | undefined> {
  if ((db as Knex & { isTransaction?: boolean }).isTransaction || dialectOf(db) !== 'postgres') return undefined;
  const { sql, bindings } = query.toSQL().toNative();
  return pgNamedSqlRows(db, sql, bindings as unknown[]);
}

async function pgNamedSqlRows(db: Knex, sql: string, bindings: unknown[]): Promise<Array<Record<string, unknown>>> {
  const batcher = pgReadBatcherOf(db, () => ({
    // Past PG_NAMED_LIMIT texts a query runs unnamed: parsed and planned each time, as knex would run it.
    run: (text, values) => pgRows(db, plansMayBeKept(db) ? pgNameOf(text, 'lingshu_q') : undefined, text, values),
    parameterTypes: (text) => pgParameterTypes(db, text),
  }));
  return batcher.rows(sql, bindings);
}

let probes = 0;

/** The types PostgreSQL gives the parameters of `text`: prepared under a name of its own, looked up, deallocated. */
async function pgParameterTypes(db: Knex, text: string): Promise<string[]> {
  const client = clientOf(db);
  const connection = (await client.acquireConnection()) as { query(text: string): Promise<Array<{ rows: Array<{ types: string[] }> }>> };
  const name = `lingshu_probe_${++probes}`;
  try {
    const results = await connection.query(
      `PREPARE ${name} AS ${text}; SELECT array(SELECT format_type(t, NULL) FROM unnest(parameter_types) AS t) AS types FROM pg_prepared_statements WHERE name = '${name}'; DEALLOCATE ${name}`,
    );
    return results[1].rows[0].types;
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Whether `nativeRows` can run a query on `db`: outside a transaction, on SQLite's read connection or as a
 * PostgreSQL named statement.
 */
export function nativeRowsAvailable(db: Knex): boolean {
  if ((db as Knex & { isTransaction?: boolean }).isTransaction) return false;
  return dialectOf(db) === 'postgres' || sqliteReadable(db);
}

/**
 * Rows of a query already in the database's own SQL (`toSQL().toNative()`), run as sqliteReaderRows or pgNamedRows
 * run a knex query; undefined where nativeRowsAvailable says no.
 */
export async function nativeRows(db: Knex, sql: string, bindings: unknown[]): Promise<Array<Record<string, unknown>> | undefined> {
  if ((db as Knex & { isTransaction?: boolean }).isTransaction) return undefined;
  if (dialectOf(db) === 'postgres') return pgNamedSqlRows(db, sql, bindings);
  return sqliteReadable(db) ? sqliteRows(db, sql, bindings) : undefined;
}

async function pgRows(db: Knex, name: string | undefined, text: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
  const client = clientOf(db);
  const connection = (await client.acquireConnection()) as PgConnection;
  try {
    return (await connection.query({ ...(name ? { name } : {}), text, values })).rows;
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Rows of `sql` (positional `?` parameters) run outside any transaction, or undefined when this database has no
 * prepared path (the caller then uses knex). `name` identifies the statement on PostgreSQL, one name per text.
 */
export async function preparedRows(db: Knex, name: string, sql: string, params: unknown[]): Promise<Array<Record<string, unknown>> | undefined> {
  // A transaction's own reads must see its writes: they stay on its connection, through knex.
  if ((db as Knex & { isTransaction?: boolean }).isTransaction) return undefined;
  const dialect = dialectOf(db);
  if (dialect === 'sqlite') {
    return sqliteReadable(db) ? sqliteRows(db, sql, params) : undefined;
  }
  if (dialect !== 'postgres') return undefined;
  return pgRows(db, plansMayBeKept(db) ? name : undefined, pgText(sql), params);
}

const pgTexts = new Map<string, string>();

/** `sql` with PostgreSQL's `$1, $2, …` for its positional `?` parameters, converted once per text. */
function pgText(sql: string): string {
  let text = pgTexts.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    // Bounded like the names: past it, a rare shape is converted each time rather than kept forever.
    if (pgTexts.size < 2000) pgTexts.set(sql, text);
  }
  return text;
}

/**
 * Names of the statements run named (searches and writes alike), one per text, at most PG_NAMED_LIMIT: each pooled
 * connection keeps every one it has run.
 */
const pgNames = new Map<string, string>();
const PG_NAMED_LIMIT = 500;

/** The name of the PostgreSQL statement `text` (prefix and a serial), or undefined past PG_NAMED_LIMIT texts. */
function pgNameOf(text: string, prefix: string): string | undefined {
  let name = pgNames.get(text);
  if (name === undefined && pgNames.size < PG_NAMED_LIMIT) pgNames.set(text, (name = `${prefix}${pgNames.size}`));
  return name;
}

/**
 * Runs `sql` (positional `?` parameters) on PostgreSQL as a prepared statement named after its text, so that a write
 * whose few shapes recur (fhir-resources/store/version-writer.ts) is parsed and planned once per pooled connection:
 * on the connection a knex transaction holds, or on one taken from the pool for this statement alone (autocommit);
 * undefined on other databases. Past PG_NAMED_LIMIT shapes the rest run unnamed.
 */
export async function pgStatement(q: Knex | Knex.Transaction, sql: string, params: unknown[]): Promise<{ rowCount: number; rows: Array<Record<string, unknown>> } | undefined> {
  if (dialectOf(q as Knex) !== 'postgres') return undefined;
  const text = pgText(sql);
  const name = plansMayBeKept(q as Knex) ? pgNameOf(text, 'lingshu_w') : undefined;
  const query = { ...(name ? { name } : {}), text, values: params };
  const client = clientOf(q as Knex);
  const connection = (await client.acquireConnection()) as PgConnection;
  try {
    const result = await connection.query(query);
    return { rowCount: Number(result.rowCount ?? 0), rows: result.rows };
  } finally {
    // A transaction's connection stays with it; a pooled one goes back once the statement is done.
    if (!(q as Knex & { isTransaction?: boolean }).isTransaction) await client.releaseConnection(connection);
  }
}

/**
 * Whether PostgreSQL may keep the plans of the store's named statements on this database: only once its resources
 * table was analyzed at a real size. A named statement's plan turns generic after five runs and stays until the
 * statistics change; one made while the tables were empty (a new installation's first minutes) walks every row once
 * they have grown: a chart search planned on empty tables did not finish in 30 s over 20,000 Observations. Until then
 * statements run unnamed, planned with each run's values and the tables' actual size. Checked in the background at
 * most every ten seconds (the first statements of a process run unnamed); once sized, for good.
 */
export function plansMayBeKept(db: Knex | Knex.Transaction): boolean {
  const known = sizeStateOf(db);
  if (known?.sized) return true;
  if (known && !known.checking && Date.now() - known.checkedAt > SIZE_CHECK_MS) void checkTableSizes(db);
  return false;
}

/**
 * Reads whether the resources table was analyzed at a real size (`plansMayBeKept`), and remembers it. On the pool, never
 * on a transaction's connection, where it would overlap the transaction's own queries: until some statement ran
 * outside a transaction (the audit seal does, every few seconds) there is no pool to ask.
 */
export async function checkTableSizes(db: Knex | Knex.Transaction): Promise<boolean> {
  const state = sizeStateOf(db);
  if (!state) return false;
  if (state.sized) return true;
  const pool = state.pool;
  if (!pool) return false;
  state.checking ??= (async () => {
    try {
      const rows = await pgRows(pool, undefined, `SELECT reltuples FROM pg_class WHERE oid = to_regclass('fhir_resources')`, []);
      state.sized = Number(rows[0]?.reltuples ?? -1) >= SIZED_ROWS;
    } catch {
      // Unknown: ask again later.
    } finally {
      state.checkedAt = Date.now();
      state.checking = undefined;
    }
  })();
  await state.checking;
  return state.sized;
}

interface SizeState {
  sized: boolean;
  checkedAt: number;
  checking?: Promise<void>;
  /** The pool itself (not a transaction), once seen. */
  pool?: Knex;
}
/** By the pool's connection settings (an object or a URL), which a transaction's client shares: a few per process. */
const sizes = new Map<unknown, SizeState>();

function sizeStateOf(db: Knex | Knex.Transaction): SizeState | undefined {
  const settings = clientOf(db).connectionSettings as unknown;
  if (!settings) return undefined;
  let state = sizes.get(settings);
  if (!state) sizes.set(settings, (state = { sized: false, checkedAt: 0 }));
  if (!state.pool && !(db as Knex & { isTransaction?: boolean }).isTransaction) state.pool = db as Knex;
  return state;
}

/** Rows the resources table must have had at its last ANALYZE. */
const SIZED_ROWS = 1000;
const SIZE_CHECK_MS = 10_000;
