import type { Knex } from 'knex';
import { pgPoolRows } from './prepared-statements';

/**
 * Reads by id on PostgreSQL that arrive together (the requests one turn of the event loop parsed) go to the database
 * as one statement per resource type: on this kind of machine each statement costs a wake-up of a backend on the
 * other core, which weighed more than the index probe it carries. A read waits for nothing but the end of the turn
 * in which it was asked, and sees what had committed when the statement ran, as it would alone.
 */
export type CurrentRowLoader = (resourceType: string, id: string) => Promise<Record<string, unknown> | undefined>;

interface Waiter {
  resolve(row: Record<string, unknown> | undefined): void;
  reject(err: unknown): void;
}

const ONE_SQL = 'select version_id, last_updated, deleted, content from fhir_resources where resource_type = $1 and id = $2';
const MANY_SQL = 'select id, version_id, last_updated, deleted, content from fhir_resources where resource_type = $1 and id = any($2)';

const loaders = new WeakMap<Knex, CurrentRowLoader>();

/** The loader of `db` (a pool, never a transaction), one per pool. */
export function currentRowLoaderOf(db: Knex): CurrentRowLoader {
  let loader = loaders.get(db);
  if (!loader) loaders.set(db, (loader = batchedLoader(db)));
  return loader;
}

function batchedLoader(db: Knex): CurrentRowLoader {
  let waiting = new Map<string, Map<string, Waiter[]>>();
  const flush = (): void => {
    const batch = waiting;
    waiting = new Map();
    for (const [resourceType, byId] of batch) void loadType(db, resourceType, byId);
  };
  return (resourceType, id) => new Promise((resolve, reject) => {
    if (waiting.size === 0) setImmediate(flush);
    let byId = waiting.get(resourceType);
    if (!byId) waiting.set(resourceType, (byId = new Map()));
    const list = byId.get(id);
    if (list) list.push({ resolve, reject });
    else byId.set(id, [{ resolve, reject }]);
  });
}

async function loadType(db: Knex, resourceType: string, byId: Map<string, Waiter[]>): Promise<void> {
  const ids = [...byId.keys()];
  try {
    // One id keeps the single-row statement (and its plan); more share the any() statement, whatever their number.
    const rows = ids.length === 1
      ? (await pgPoolRows(db, 'lingshu_current_row', ONE_SQL, [resourceType, ids[0]])).map((row) => ({ ...row, id: ids[0] }))
      : await pgPoolRows(db, 'lingshu_current_rows', MANY_SQL, [resourceType, ids]);
    const found = new Map(rows.map((row) => [String(row.id), row]));
    for (const [id, waiters] of byId) for (const w of waiters) w.resolve(found.get(id));
  } catch (err) {
    for (const waiters of byId.values()) for (const w of waiters) w.reject(err);
  }
}
