import type { Knex } from 'knex';
import { currentRowLoaderOf } from './current-row-batch';
import { preparedRows } from './prepared-statements';
import type { StoreDialect } from './store-dialect';

/** The current row of a resource as stored. */
export interface CurrentRow {
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  content: string;
}

const CURRENT_ROW_SQL = 'select version_id, last_updated, deleted, content from fhir_resources where resource_type = ? and id = ?';

/** A resource's current row, in `q` (a transaction or the pool), under a row lock until commit when `lock`. */
export async function readCurrentRow(dialect: StoreDialect, q: Knex | Knex.Transaction, resourceType: string, id: string, lock: boolean): Promise<CurrentRow | undefined> {
  let row: Record<string, unknown> | undefined;
  if (dialect.plainSql) {
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
