import { Filter, SearchRequest, splitSearchOnComma } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { extractIndexRows } from './index-rows';
import { searchParameter } from './search-parameters';
import { splitTokenValue } from './token-value';

/**
 * Whether `resource` could match `request`: false only when one of its filters certainly rejects it, true where
 * unsure. The store keeps the matches of a transaction's conditions across its writes with it (condition-matches.ts),
 * so a wrong false would let a conditional create duplicate a resource: only the filters of those conditions are
 * judged — a plain token (`identifier=system|value`) — from the resource's own index rows, the ones the SQL reads,
 * and codes are compared ignoring case, which can only say yes more often.
 */
export function mayMatch(resource: Resource, request: SearchRequest): boolean {
  if (resource.resourceType !== request.resourceType) return false;
  return !(request.filters ?? []).some((filter) => tokenRejects(resource, filter));
}

function tokenRejects(resource: Resource, filter: Filter): boolean {
  // `_id` and other columns are not in the index rows; chains, `_has` and modifiers are not judged.
  if (filter.operator !== 'eq' || filter.code.startsWith('_') || searchParameter(resource.resourceType, filter.code)?.type !== 'token') return false;
  const wanted = splitSearchOnComma(filter.value).map((v) => splitTokenValue(v).code.toLowerCase());
  if (wanted.length === 0 || wanted.includes('')) return false;
  const tokens = extractIndexRows(resource, [filter.code]).token;
  return !tokens.some((row) => row.param === filter.code && wanted.includes(String(row.value ?? '').toLowerCase()));
}
