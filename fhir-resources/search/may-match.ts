import { Filter, SearchRequest, splitSearchOnComma } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { extractIndexRows } from './index-rows';
import { searchParameter, storedParameters } from './search-parameters';
import { splitTokenValue } from './token-value';

/**
 * Whether `resource` could match `request`: false only when one of its filters certainly rejects it, true where
 * unsure. The store keeps the matches of a transaction's conditions across its writes with it (condition-matches.ts),
 * so a wrong false would let a conditional create duplicate a resource: only the filters of those conditions are
 * judged — a plain token (`identifier=system|value`) — from the resource's own index rows, the ones the SQL reads,
 * and codes are compared ignoring case, which can only say yes more often.
 */
export function mayMatch(resource: Resource, request: SearchRequest): boolean {
  return matcherFor(resource)(request);
}

/**
 * `mayMatch` for one resource against many requests (every condition a transaction read ahead, after each of its
 * writes): the resource's token values are extracted once per parameter, not once per request.
 */
export function matcherFor(resource: Resource): (request: SearchRequest) => boolean {
  const valuesByCode = new Map<string, Set<string>>();
  const valuesOf = (code: string): Set<string> => {
    let values = valuesByCode.get(code);
    if (!values) {
      // A union parameter's values are its members' (storedParameters); `stored` is the same array on every call.
      const stored = storedParameters(resource.resourceType, code);
      values = new Set(extractIndexRows(resource, stored).token.filter((row) => (stored as readonly unknown[]).includes(row.param)).map((row) => String(row.value ?? '').toLowerCase()));
      valuesByCode.set(code, values);
    }
    return values;
  };
  return (request) => resource.resourceType === request.resourceType && !checksOf(request).some((c) => !c.wanted.some((w) => valuesOf(c.code).has(w)));
}

/** A filter that can reject a resource: one of `wanted` (lower-cased codes) must be among its values of `code`. */
interface TokenCheck {
  code: string;
  wanted: string[];
}

/**
 * The checks of a request, made once per request object: a transaction's read-ahead conditions are judged against
 * every resource it writes, and parsing their filters anew each time was most of that (a group commit of thirty
 * ORU messages judges a hundred and fifty conditions after each of its hundred and fifty Observation writes).
 */
const checks = new WeakMap<SearchRequest, TokenCheck[]>();

function checksOf(request: SearchRequest): TokenCheck[] {
  let found = checks.get(request);
  if (!found) checks.set(request, (found = (request.filters ?? []).flatMap((f) => checkOf(request.resourceType, f))));
  return found;
}

function checkOf(resourceType: string, filter: Filter): TokenCheck[] {
  // `_id` and other columns are not in the index rows; chains, `_has` and modifiers are not judged.
  if (filter.operator !== 'eq' || filter.code.startsWith('_') || searchParameter(resourceType, filter.code)?.type !== 'token') return [];
  const wanted = splitSearchOnComma(filter.value).map((v) => splitTokenValue(v).code.toLowerCase());
  if (wanted.length === 0 || wanted.includes('')) return [];
  return [{ code: filter.code, wanted }];
}
