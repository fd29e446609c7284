import type { Knex } from 'knex';
import { dialectOf } from '../../engine/db';
import { pgStatement } from './prepared-statements';
import { VersionWrite, writeVersion } from './version-writer';
import { storeDialect } from './store-dialect';
import { concurrentWrite } from './store-outcomes';
import { sameClearedTables, versionsStatement } from './versions-statement';

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
  const statement = versionsStatement(p.writes);
  const result = await pgStatement(trx, statement.sql, statement.bindings);
  const updated = statement.updated(result?.rows[0]);
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
