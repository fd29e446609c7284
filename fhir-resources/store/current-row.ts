import type { Knex } from 'knex';
import { flushVersions, isPending } from './deferred-versions';
import { pgStatement, preparedRows } from './prepared-statements';
import type { StoreDialect } from './store-dialect';
import { TurnBatch } from './turn-batch';

/** The current row of a resource as stored. */
export interface CurrentRow {
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  content: string;
}

const CURRENT_ROW_SQL = 'select version_id, last_updated, deleted, content from fhir_resources where resource_type = ? and id = ?';
const CURRENT_ROWS_SQL = 'select id, version_id, last_updated, deleted, content from fhir_resources where resource_type = ? and id = any(?)';

/** A resource's current row, in `q` (a transaction or the pool), under a row lock until commit when `lock`. */
export async function readCurrentRow(dialect: StoreDialect, q: Knex | Knex.Transaction, resourceType: string, id: string, lock: boolean): Promise<CurrentRow | undefined> {
  let row: Record<string, unknown> | undefined;
  if (dialect.name === 'postgres' && (q as Knex & { isTransaction?: boolean }).isTransaction) {
    // On the transaction's connection without knex, so that the versions it has not sent yet wait on (one row
    // cannot see them unless it is theirs); a named statement besides.
    const trx = q as Knex.Transaction;
    if (isPending(trx, `${resourceType}/${id}`)) await flushVersions(trx);
    [row] = (await pgStatement(trx, lock ? `${CURRENT_ROW_SQL} FOR UPDATE` : CURRENT_ROW_SQL, [resourceType, id]))!.rows;
  } else if (dialect.plainSql) {
    const sql = lock && dialect.name !== 'sqlite' ? `${CURRENT_ROW_SQL} FOR UPDATE` : CURRENT_ROW_SQL;
    [row] = dialect.rawRows(await q.raw(sql, [resourceType, id]));
  } else {
    const query = q('fhir_resources').select('version_id', 'last_updated', 'deleted', 'content').where({ resource_type: resourceType, id });
    // No .first(): Oracle's row-limit wrapper cannot carry FOR UPDATE; the primary key gives at most one row anyway.
    [row] = await (lock ? dialect.forUpdate(query) : query);
  }
  return toCurrentRow(dialect, row);
}

/** `readCurrentRow` on the pool through a prepared statement where the database has one: every read by id. */
export async function currentRowOutsideTransaction(db: Knex, dialect: StoreDialect, resourceType: string, id: string): Promise<CurrentRow | undefined> {
  if (dialect.name === 'postgres') return toCurrentRow(dialect, await currentRowLoaderOf(db)(resourceType, id));
  const rows = await preparedRows(db, 'lingshu_current_row', CURRENT_ROW_SQL, [resourceType, id]);
  if (!rows) return readCurrentRow(dialect, db, resourceType, id, false);
  return toCurrentRow(dialect, rows[0]);
}

function toCurrentRow(dialect: StoreDialect, row: Record<string, unknown> | undefined): CurrentRow | undefined {
  if (!row) return undefined;
  return { versionId: Number(row.version_id), lastUpdated: String(row.last_updated), deleted: dialect.bool(row.deleted), content: String(row.content) };
}

/**
 * Reads by id on PostgreSQL that arrive together (the requests one turn of the event loop parsed) go to the database
 * as one statement per resource type: on this kind of machine each statement costs a wake-up of a backend on the
 * other core, which weighed more than the index probe it carries. A read waits for nothing but the end of the turn
 * in which it was asked, and sees what had committed when the statement ran, as it would alone.
 */
export type CurrentRowLoader = (resourceType: string, id: string) => Promise<Record<string, unknown> | undefined>;

interface RowWaiter {
  id: string;
  resolve(row: Record<string, unknown> | undefined): void;
  reject(err: unknown): void;
}

const loaders = new WeakMap<Knex, CurrentRowLoader>();

/** The loader of `db` (a pool, never a transaction), one per pool. */
export function currentRowLoaderOf(db: Knex): CurrentRowLoader {
  let loader = loaders.get(db);
  if (!loader) {
    const turn = new TurnBatch<string, RowWaiter>((byType) => {
      for (const [resourceType, waiters] of byType) void loadType(db, resourceType, waiters);
    });
    loaders.set(db, (loader = (resourceType, id) => new Promise((resolve, reject) => turn.add(resourceType, { id, resolve, reject }))));
  }
  return loader;
}

async function loadType(db: Knex, resourceType: string, waiters: RowWaiter[]): Promise<void> {
  const ids = [...new Set(waiters.map((w) => w.id))];
  try {
    // One id keeps the single-row statement (and its plan); more share the any() statement, whatever their number.
    const rows = ids.length === 1
      ? (await preparedRows(db, 'lingshu_current_row', CURRENT_ROW_SQL, [resourceType, ids[0]]))!.map((row) => ({ ...row, id: ids[0] }))
      : (await preparedRows(db, 'lingshu_current_rows', CURRENT_ROWS_SQL, [resourceType, ids]))!;
    const found = new Map(rows.map((row) => [String(row.id), row]));
    for (const w of waiters) w.resolve(found.get(w.id));
  } catch (err) {
    for (const w of waiters) w.reject(err);
  }
}
