import type { Knex } from 'knex';
import { dialectOf } from '../../engine/db';
import { pgStatement } from './prepared-statements';
import type { IndexTableRows } from './search-index-port';
import { VersionWrite, writeVersion } from './version-writer';
import { storeDialect } from './store-dialect';
import { concurrentWrite } from './store-outcomes';

/**
 * Versions a PostgreSQL transaction has written but not yet sent, sent together in one statement before anything
 * could see them. A transaction Bundle of a lab result writes six or seven resources, a channel's group commit
 * (adapters/fhir/bundle-group-commit.ts) a dozen Bundles: one statement per version was four fifths of the
 * statements such a transaction sent, and on this kind of machine each statement costs PostgreSQL far more than the
 * rows it writes (a backend woken per statement).
 *
 * Nothing reads a pending version: the transaction's knex client sends them before any other query of the
 * transaction (a search, a row lock, an access check, COMMIT), and the store sends them at the end of its
 * transactions so that a failure surfaces where the writer can tell it (KnexRepository.write retries a lost race).
 * A ROLLBACK drops them. A second write of one resource sends the first first: within one statement both would
 * read the same snapshot.
 */

interface Pending {
  writes: VersionWrite[];
  refs: Set<string>;
}

const pending = new WeakMap<Knex.Transaction, Pending>();
const watched = new WeakSet<object>();

/** Beyond this many versions the next write sends what is pending first: one statement stays a bounded size. */
const MAX_PENDING = 200;

/**
 * Keeps `w` to be sent with the transaction's other versions; false where it cannot wait (not PostgreSQL), for the
 * caller to write it now.
 */
export async function deferVersion(trx: Knex.Transaction, w: VersionWrite): Promise<boolean> {
  if (dialectOf(trx as unknown as Knex) !== 'postgres') return false;
  const ref = `${w.resourceType}/${w.id}`;
  let p = pending.get(trx);
  if (p && (p.refs.has(ref) || p.writes.length >= MAX_PENDING)) {
    await flushVersions(trx);
    p = undefined;
  }
  if (!p) {
    watchQueries(trx);
    pending.set(trx, (p = { writes: [], refs: new Set() }));
  }
  p.writes.push(w);
  p.refs.add(ref);
  return true;
}

/** Whether a version of `ref` (`Type/id`) waits in the transaction: a read of that row alone must send it first. */
export function isPending(trx: Knex.Transaction, ref: string): boolean {
  return pending.get(trx)?.refs.has(ref) ?? false;
}

/**
 * Sends the transaction's pending versions. Rejects with the database's error (a unique violation: a concurrent
 * creator of the same id), or with VersionsNotWritten naming the versions whose compare-and-set found another
 * version; either way the transaction must roll back.
 */
export async function flushVersions(trx: Knex.Transaction): Promise<void> {
  const p = pending.get(trx);
  if (!p) return;
  pending.delete(trx);
  if (p.writes.length === 1 || !sameClearedTables(p.writes)) {
    for (const w of p.writes) {
      if (!(await writeVersion(trx, storeDialect(trx as unknown as Knex), w))) throw new VersionsNotWritten([`${w.resourceType}/${w.id}`]);
    }
    return;
  }
  const { sql, bindings } = versionsStatement(p.writes);
  const result = await pgStatement(trx, sql, bindings);
  const updated = new Set((result?.rows[0]?.updated as string[] | null) ?? []);
  const lost = p.writes.filter((w) => w.previous !== undefined && !updated.has(`${w.resourceType}/${w.id}`));
  if (lost.length > 0) throw new VersionsNotWritten(lost.map((w) => `${w.resourceType}/${w.id}`));
}

/**
 * `result`, once the transaction's pending versions went out, before its COMMIT: the end of a transaction the store
 * opened. A lost compare-and-set is the caller's 409, as it was when each version went out at its write; the
 * database's own errors (a lost race to create) stay as they are, for the store to run the transaction again.
 */
export async function sentWith<T>(trx: Knex.Transaction, result: T): Promise<T> {
  try {
    await flushVersions(trx);
  } catch (err) {
    if (err instanceof VersionsNotWritten) throw concurrentWrite(err.refs.join(', '));
    throw err;
  }
  return result;
}

/** Versions whose compare-and-set found another version: a writer got past the row lock. */
export class VersionsNotWritten extends Error {
  constructor(readonly refs: string[]) {
    super(`another version of ${refs.join(', ')} was written concurrently`);
  }
}

/**
 * Sends pending versions before any other query of the transaction, and drops them on ROLLBACK. knex runs every
 * query of a transaction, COMMIT and ROLLBACK included, through the transaction's own client's `query`.
 */
function watchQueries(trx: Knex.Transaction): void {
  type Query = (this: unknown, conn: unknown, obj: unknown) => Promise<unknown>;
  const client = trx.client as unknown as { query: Query };
  if (watched.has(client)) return;
  watched.add(client);
  const query = client.query;
  // knex marks the transaction completed as it asks for COMMIT, and its transaction client then refuses queries:
  // COMMIT after the versions went out, or ROLLBACK when they failed, go to the driver client's own query.
  const unchecked = (Object.getPrototypeOf(client) as { query: Query }).query;
  client.query = async function watchedQuery(this: unknown, conn: unknown, obj: unknown) {
    if (!pending.has(trx)) return query.call(this, conn, obj);
    const sql = typeof obj === 'string' ? obj : (obj as { sql?: string })?.sql ?? '';
    if (/^\s*ROLLBACK/i.test(sql)) {
      pending.delete(trx);
      return query.call(this, conn, obj);
    }
    if (!/^\s*COMMIT/i.test(sql)) {
      await flushVersions(trx);
      return query.call(this, conn, obj);
    }
    try {
      await flushVersions(trx);
    } catch (err) {
      // knex gives the connection back after a failed COMMIT without a ROLLBACK: it must not stay in the transaction.
      await unchecked.call(this, conn, 'ROLLBACK;').catch(() => undefined);
      throw err;
    }
    return unchecked.call(this, conn, obj);
  };
}

/** The index tables every version with a previous one clears: one list for the whole statement. */
function sameClearedTables(writes: VersionWrite[]): boolean {
  const lists = writes.filter((w) => w.clearIndex.length > 0).map((w) => w.clearIndex.join(','));
  return lists.every((l) => l === lists[0]);
}

const VERSION_RECORD = 'n int, resource_type varchar, id varchar, previous int, version_id int, last_updated varchar, deleted boolean, content text, method varchar, action varchar, correlation_id varchar, created_at bigint';
const VERSION_COLUMNS = 'resource_type, id, version_id, last_updated, deleted, content';

/**
 * One statement for many versions, its text fixed by which kinds of rows it writes (so that it is prepared once per
 * shape, not per size): the versions as one JSON array (`u`), each table's rows as one JSON array read into the
 * table's own row type. New versions are inserted, replaced ones updated with a compare-and-set on the version read
 * (the ids updated come back, to tell a lost race), and the old index rows of replaced versions deleted; every
 * sub-statement sees the snapshot from before the statement, so the deletes cannot touch the new index rows.
 */
function versionsStatement(writes: VersionWrite[]): { sql: string; bindings: Knex.Value[] } {
  const now = Date.now();
  const versions = writes.map((w, n) => ({
    n, resource_type: w.resourceType, id: w.id, previous: w.previous ?? null, version_id: w.versionId, last_updated: w.lastUpdated,
    deleted: w.deleted, content: w.content, method: w.method, action: w.action, correlation_id: w.correlationId, created_at: now,
  }));
  const creates = writes.some((w) => w.previous === undefined);
  const updates = writes.some((w) => w.previous !== undefined);
  const parts = [`u AS MATERIALIZED (SELECT * FROM json_to_recordset(CAST(? AS json)) AS u(${VERSION_RECORD}))`];
  const bindings: Knex.Value[] = [JSON.stringify(versions)];
  if (creates) parts.push(`vc AS (INSERT INTO fhir_resources (${VERSION_COLUMNS}) SELECT ${VERSION_COLUMNS} FROM u WHERE previous IS NULL)`);
  if (updates) {
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
  const rows = byTable([...writes.flatMap((w) => w.index), ...writes.flatMap((w) => w.companions ?? [])]);
  rows.forEach(({ table, columns, values }, i) => {
    parts.push(`x${i} AS (INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM json_populate_recordset(CAST(NULL AS ${table}), CAST(? AS json)))`);
    bindings.push(JSON.stringify(values.map((v) => Object.fromEntries(columns.map((c, j) => [c, v[j]])))));
  });
  const updated = updates ? `ARRAY(SELECT resource_type || '/' || id FROM vu)` : 'CAST(NULL AS text[])';
  return { sql: `WITH ${parts.join(', ')} SELECT ${updated} AS updated`, bindings };
}

/** Rows of all versions merged per table (and column list), tables in name order so that a shape has one text. */
function byTable(tables: IndexTableRows[]): IndexTableRows[] {
  const merged = new Map<string, IndexTableRows>();
  for (const t of tables) {
    if (t.values.length === 0) continue;
    const key = `${t.table}(${t.columns.join(',')})`;
    const into = merged.get(key);
    if (into) into.values.push(...t.values);
    else merged.set(key, { table: t.table, columns: t.columns, values: [...t.values] });
  }
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, t]) => t);
}
