import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { IndexTableRows } from './search-index-port';

export type Companions = (stored: Resource) => IndexTableRows[];

/**
 * Rows a caller wants written with the next version its transaction writes (its audit record), offered before the
 * write and taken by it: on PostgreSQL they then ride in the version's statement instead of a statement of their own.
 * Taken once; a transaction that writes no version leaves them, and the caller writes its rows itself. Tracked by
 * transaction, since several repositories share one.
 */
const offered = new WeakMap<Knex.Transaction, Companions>();

export function offerCompanions(trx: Knex.Transaction, companions: Companions): void {
  offered.set(trx, companions);
}

export function takeCompanions(trx: Knex.Transaction): Companions | undefined {
  const companions = offered.get(trx);
  offered.delete(trx);
  return companions;
}
