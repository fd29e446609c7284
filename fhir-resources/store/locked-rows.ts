import type { Knex } from 'knex';

/**
 * Current rows a transaction has read with a row lock (SELECT … FOR UPDATE), by `Type/id`. A guarded update or
 * delete reads the resource it replaces to check the caller may see it, and the store's write then needs the same
 * row locked: the second SELECT was one round trip in five of such a write. A locked row cannot change until the
 * transaction ends except by this transaction's own write, which forgets it. Rows not found are not kept: a
 * concurrent creator can still insert them, and the write must look again. Tracked by transaction, since several
 * repositories share one.
 */
const held = new WeakMap<Knex.Transaction, Map<string, unknown>>();

export function lockedRow<Row>(trx: Knex.Transaction, ref: string): Row | undefined {
  return held.get(trx)?.get(ref) as Row | undefined;
}

export function rememberLockedRow<Row>(trx: Knex.Transaction, ref: string, row: Row | undefined): void {
  if (row === undefined) return;
  let rows = held.get(trx);
  if (!rows) held.set(trx, (rows = new Map()));
  rows.set(ref, row);
}

/** After this transaction writes a new version of `ref`: the kept row is stale. */
export function forgetLockedRow(trx: Knex.Transaction, ref: string): void {
  held.get(trx)?.delete(ref);
}
