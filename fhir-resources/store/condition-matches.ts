import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { SearchResult } from './repository';

/**
 * What the conditions (`Type?search`) of a transaction's conditional creates and updates matched, read ahead in one
 * round trip when the transaction took their locks (KnexRepository.prepareConditions), so that each conditional
 * interaction finds its match here instead of running its own search. A match stays valid until the transaction
 * writes something that could change it: a new version of a resource it found, or a resource of its type that may
 * match it (`mayMatch`, which may say yes too often but never too seldom). Writes of other transactions cannot change
 * it, as they would have to take the condition's lock first. Tracked by transaction, since several repositories
 * share one.
 */
interface ReadAhead {
  request: SearchRequest;
  result: SearchResult;
}

const ahead = new WeakMap<Knex.Transaction, Map<string, ReadAhead>>();

export function rememberMatches(trx: Knex.Transaction, condition: string, request: SearchRequest, result: SearchResult): void {
  let kept = ahead.get(trx);
  if (!kept) ahead.set(trx, (kept = new Map()));
  kept.set(condition, { request, result });
}

/** The conditions of `conditions` with no match read ahead. */
export function notReadAhead(trx: Knex.Transaction, conditions: string[]): string[] {
  const kept = ahead.get(trx);
  return kept ? conditions.filter((c) => !kept.has(c)) : conditions;
}

/** The matches of `condition` read ahead and still valid, if any. */
export function matchesReadAhead(trx: Knex.Transaction, condition: string): SearchResult | undefined {
  return ahead.get(trx)?.get(condition)?.result;
}

/** After the transaction wrote `resource` (a new version, or its deletion): drops the matches it may change. */
export function forgetMatchesChangedBy(trx: Knex.Transaction, resource: Resource, mayMatch: (request: SearchRequest) => boolean): void {
  const kept = ahead.get(trx);
  if (!kept) return;
  for (const [condition, { request, result }] of kept) {
    if (request.resourceType !== resource.resourceType) continue;
    if (result.resources.some((r) => r.id === resource.id) || mayMatch(request)) kept.delete(condition);
  }
}
