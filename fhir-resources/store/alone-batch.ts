import type { Knex } from 'knex';
import { pgStatement } from './prepared-statements';
import type { StoreDialect } from './store-dialect';
import { TurnBatch } from './turn-batch';
import { VersionWrite, writeVersionAlone } from './version-writer';
import { sameClearedTables, versionsStatement } from './versions-statement';

/**
 * Versions written alone (a create, update or delete outside a Bundle: one statement in autocommit, its
 * compare-and-set guarding it) that requests ask for in one turn of the event loop go to PostgreSQL together, as one
 * statement: a group commit. Under 50 clients each write was a statement of its own, and on this kind of machine a
 * statement costs both processes far more than the rows it writes (a backend woken, a socket write, a commit).
 *
 * The statement is all or nothing: it fails unless every compare-and-set holds (versions-statement.ts). When
 * PostgreSQL refuses it (a writer that got in between, a duplicate id), nothing was written, and each version goes
 * again on its own, so that each writer learns its own outcome exactly as without the batch.
 */

interface Ask {
  w: VersionWrite;
  resolve: (written: boolean | undefined) => void;
  reject: (err: unknown) => void;
}

/** Versions per statement: bounds the statement's size and the time the batch's first writer waits for its last. */
const MAX_BATCH = 64;
/** A version with more index rows than this goes alone: one large resource should not make a batch's statement huge. */
const MAX_INDEX_ROWS = 2_000;

const batches = new WeakMap<Knex, TurnBatch<0, Ask>>();

/**
 * Writes `w` as one statement in autocommit, with the other versions written alone in this turn. Resolves true
 * when written, false when its compare-and-set found another version, undefined (nothing written) where it cannot be
 * one statement, for the caller to use a transaction: the contract of writeVersionAlone.
 */
export function writeAlone(db: Knex, dialect: StoreDialect, w: VersionWrite): Promise<boolean | undefined> {
  if (dialect.name !== 'postgres' || indexRows(w) > MAX_INDEX_ROWS) return writeVersionAlone(db, dialect, w);
  let batch = batches.get(db);
  if (!batch) {
    batch = new TurnBatch((groups) => {
      for (const asks of groups.values()) void send(db, dialect, asks);
    });
    batches.set(db, batch);
  }
  const into = batch;
  return new Promise((resolve, reject) => into.add(0, { w, resolve, reject }));
}

async function send(db: Knex, dialect: StoreDialect, asks: Ask[]): Promise<void> {
  // Two versions of one resource in one statement would both read the same snapshot: the second goes on its own.
  const seen = new Set<string>();
  const together: Ask[] = [];
  const apart: Ask[] = [];
  for (const ask of asks) {
    const ref = `${ask.w.resourceType}/${ask.w.id}`;
    (seen.has(ref) ? apart : together).push(ask);
    seen.add(ref);
  }
  const sends = apart.map((a) => alone(db, dialect, a));
  for (let i = 0; i < together.length; i += MAX_BATCH) sends.push(statement(db, dialect, together.slice(i, i + MAX_BATCH)));
  await Promise.all(sends);
}

async function statement(db: Knex, dialect: StoreDialect, asks: Ask[]): Promise<void> {
  const writes = asks.map((a) => a.w);
  if (asks.length === 1 || !sameClearedTables(writes)) {
    await Promise.all(asks.map((a) => alone(db, dialect, a)));
    return;
  }
  const s = versionsStatement(writes, true);
  let row: Record<string, unknown> | undefined;
  try {
    row = (await pgStatement(db, s.sql, s.bindings))?.rows[0];
  } catch (err) {
    // Refused by PostgreSQL, nothing of the statement was written: each version again on its own tells its writer
    // what happened to it. A lost connection may have lost the answer to a commit: sending again could write an
    // update twice, so each writer gets the error, as it would have for its own statement.
    if (refused(err)) await Promise.all(asks.map((a) => alone(db, dialect, a)));
    else for (const a of asks) a.reject(err);
    return;
  }
  s.returnCompanions(row);
  for (const a of asks) a.resolve(true);
}

async function alone(db: Knex, dialect: StoreDialect, a: Ask): Promise<void> {
  try {
    a.resolve(await writeVersionAlone(db, dialect, a.w));
  } catch (err) {
    a.reject(err);
  }
}

/**
 * An error PostgreSQL answered the statement with (a SQLSTATE), other than the classes that leave its outcome unknown:
 * connection exceptions (08), insufficient resources (53), operator intervention (57, a shutdown), system errors (58,
 * XX).
 */
function refused(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58|XX)/.test(code);
}

function indexRows(w: VersionWrite): number {
  let n = 0;
  for (const t of w.index) n += t.values.length;
  return n;
}
