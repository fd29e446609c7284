import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { StoreDialect } from './store-dialect';

/**
 * Locks on the conditions (`Type?search`) of conditional creates and updates, held until the transaction ends, so
 * that two transactions with the same condition run its search-then-write one after the other. A transaction that
 * already holds a condition's lock (a Bundle takes all of its conditions up front) does not ask again. Tracked by
 * transaction, since several repositories share one.
 */
const held = new WeakMap<Knex.Transaction, Set<string>>();

function heldBy(trx: Knex.Transaction): Set<string> {
  let set = held.get(trx);
  if (!set) held.set(trx, (set = new Set()));
  return set;
}

function keyOf(condition: string): string {
  return createHash('sha256').update(condition).digest('hex');
}

/** One condition's lock, unless the transaction holds it already. */
export async function lockCondition(dialect: StoreDialect, trx: Knex.Transaction, condition: string): Promise<void> {
  const mine = heldBy(trx);
  if (mine.has(condition)) return;
  await dialect.lockUntilCommit(trx, keyOf(condition));
  mine.add(condition);
}

/** Several conditions' locks in one go (one statement on PostgreSQL), skipping those already held. */
export async function lockConditions(dialect: StoreDialect, trx: Knex.Transaction, conditions: string[]): Promise<void> {
  const mine = heldBy(trx);
  const fresh = [...new Set(conditions)].filter((c) => !mine.has(c));
  if (!fresh.length) return;
  await dialect.lockAllUntilCommit(trx, fresh.map(keyOf));
  for (const c of fresh) mine.add(c);
}
