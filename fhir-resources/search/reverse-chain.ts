import { isResourceType, OperationOutcomeError, type Filter } from '@medplum/core';
import type { Knex } from 'knex';
import { applyFilter } from './filter-conditions';
import { invalidSearchValue, SearchContext } from './search-context';
import { INDEX_TABLES } from './search-migrations';
import { searchParameter } from './search-parameters';
import { parseFhirSearch } from './search-request';

/**
 * `_has:Observation:patient:code=1234-5` (reverse chaining, R4 search §3.1.1.5.6, one level): the rows that a live
 * Observation matching `code=1234-5` points at through its `patient` parameter. The referring resources are read
 * under the caller's restriction, so the filter cannot reveal anything about records the caller may not see.
 */
const HAS = /^_has:([A-Z][A-Za-z]+):([A-Za-z0-9\-_]+):(.+)$/;

export function applyHas(ctx: SearchContext, qb: Knex.QueryBuilder, resourceType: string, outer: string, filter: Filter): void {
  const m = HAS.exec(filter.code);
  if (!m) throw invalidSearchValue(filter.code, `${filter.code} is not of the form _has:<type>:<reference parameter>:<parameter>`);
  const [, type, refCode, rest] = m;
  if (rest.startsWith('_has:')) return ctx.reject(filter.code, '_has is supported to one level only');
  if (!isResourceType(type)) throw invalidSearchValue(filter.code, `"${type}" in ${filter.code} is not a resource type`);
  const ref = searchParameter(type, refCode);
  if (ref?.type !== 'reference') return ctx.reject(filter.code, `"${refCode}" is not a reference search parameter of ${type}`);
  if (ref.target?.length && !ref.target.includes(resourceType as never)) {
    return ctx.reject(filter.code, `${type}.${refCode} does not refer to ${resourceType}`);
  }
  let inner: Filter[];
  try {
    inner = parseFhirSearch(type, { [rest]: filter.value }).filters ?? [];
  } catch (err) {
    if (err instanceof OperationOutcomeError) throw err;
    throw invalidSearchValue(filter.code, `${filter.code}: ${(err as Error).message}`);
  }
  const h = ctx.alias('h');
  const referring = ctx.db(`fhir_resources as ${h}`).select(`${h}.id`).where(`${h}.resource_type`, type).where(`${h}.deleted`, false);
  ctx.restrict(referring, type, h);
  for (const f of inner) applyFilter(ctx, referring, type, h, f);
  const a = ctx.alias();
  const targets = ctx.db(`${INDEX_TABLES.reference} as ${a}`).select(`${a}.target_id`)
    .where(`${a}.resource_type`, type).where(`${a}.param`, refCode).where(`${a}.target_type`, resourceType)
    .whereIn(`${a}.resource_id`, referring);
  qb.whereIn(`${outer}.id`, targets);
}
