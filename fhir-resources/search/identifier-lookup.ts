import { Operator, type SearchRequest } from '@medplum/core';
import type { Knex } from 'knex';
import { dialectOf } from '../../engine/db';
import type { SearchOptions } from '../store/repository';
import type { IndexPrivacy } from './index-privacy';
import { INDEX_TABLES } from './search-migrations';
import { splitTokenValue } from './token-value';

/**
 * The conditions of conditional creates and updates on a business identifier (`Type?identifier=system|value`), which
 * every mapped HL7 message asks several of before it writes (its patient, visit, report and each result), answered
 * for all of them by one PostgreSQL statement. Built as one search each and joined by UNION ALL they cost PostgreSQL
 * ten times more to plan than to run (a third of its time for a clinical message); a named statement would plan
 * once, but its generic plan, made while the tables were still small, walked every resource of the type once they
 * had grown. These statements' texts do not depend on the number of conditions, and they plan in a fraction of the
 * union's time.
 */
export interface IdentifierCondition {
  resourceType: string;
  system: string;
  /** As indexed: a protected identifier's keyed digest (index-privacy.ts). */
  value: string;
}

/**
 * The condition a search is, when it is one the lookup answers exactly as the search would: one `identifier` filter
 * with a system and a value, nothing else that shapes the page (sort, offset, cursor, total, includes), no access
 * restriction that adds conditions, on PostgreSQL.
 */
export function identifierCondition(db: Knex | Knex.Transaction, request: SearchRequest, options: SearchOptions, privacy?: IndexPrivacy): IdentifierCondition | undefined {
  if (dialectOf(db as Knex) !== 'postgres') return undefined;
  if (options.restriction && !options.restriction.addsNothingFor?.(request.resourceType)) return undefined;
  const [filter, ...others] = request.filters ?? [];
  if (!filter || others.length || filter.code !== 'identifier' || filter.operator !== Operator.EQUALS) return undefined;
  if (request.sortRules?.length || request.offset || request.cursor || request.total === 'accurate' || request.include?.length || request.revInclude?.length) return undefined;
  // A comma is an OR of values; unescaped, the value would need splitting first.
  if (/(?<!\\),/.test(filter.value)) return undefined;
  const { system, code } = splitTokenValue(filter.value);
  if (!system || !code) return undefined;
  return { resourceType: request.resourceType, system, value: privacy?.searchToken(request.resourceType, 'identifier', code) ?? code };
}

const SELECT = `SELECT x.resource_type, x.system, x.value, r.id, r.content`;
const JOIN_RESOURCE = `JOIN fhir_resources r ON r.resource_type = x.resource_type AND r.id = x.resource_id AND r.deleted = false`;
/** One condition: two tables to plan. */
const ONE_SQL = `${SELECT} FROM ${INDEX_TABLES.token} x ${JOIN_RESOURCE}
  WHERE x.resource_type = ? AND x.param = 'identifier' AND x.system = ? AND x.value = ? ORDER BY r.id`;
/**
 * Several: each probes the token index on its own (LATERAL), which PostgreSQL plans in a third of the time of a
 * semi-join on the arrays' rows.
 */
const MANY_FROM = `FROM unnest(?::text[], ?::text[], ?::text[]) AS k(t, s, v)
  JOIN LATERAL (SELECT * FROM ${INDEX_TABLES.token} i WHERE i.resource_type = k.t AND i.param = 'identifier' AND i.system = k.s AND i.value = k.v) x ON true
  ${JOIN_RESOURCE} ORDER BY r.id`;
const MANY_SQL = `${SELECT} ${MANY_FROM}`;
/**
 * Several, their matches locked: PostgreSQL locks the rows as the sort hands them out, so two transactions lock
 * common matches in the same order (by id) and do not deadlock on them.
 */
const MANY_LOCKED_SQL = `${SELECT}, r.version_id, r.last_updated ${MANY_FROM} FOR UPDATE OF r`;

/**
 * The rows (id, content) each condition's search would page through, ordered by id in the database's collation as its
 * page is, each resource once.
 */
export async function lookUpIdentifiers(
  db: Knex | Knex.Transaction, conditions: IdentifierCondition[], lockMatches?: SearchOptions['lockMatches'],
): Promise<Array<Array<Record<string, unknown>>>> {
  const keyOf = (t: unknown, s: unknown, v: unknown): string => `${String(t)}\u0000${String(s)}\u0000${String(v)}`;
  const found = new Map<string, Map<string, Record<string, unknown>>>();
  const [one] = conditions;
  const many = [conditions.map((c) => c.resourceType), conditions.map((c) => c.system), conditions.map((c) => c.value)];
  const lock = lockMatches && (db as Knex.Transaction).isTransaction;
  const result = lock
    ? await db.raw(MANY_LOCKED_SQL, many)
    : conditions.length === 1 ? await db.raw(ONE_SQL, [one.resourceType, one.system, one.value]) : await db.raw(MANY_SQL, many);
  for (const row of result.rows as Array<Record<string, unknown>>) {
    if (lock) lockMatches({ resourceType: String(row.resource_type), id: String(row.id), versionId: Number(row.version_id), lastUpdated: String(row.last_updated), content: String(row.content) });
    const key = keyOf(row.resource_type, row.system, row.value);
    let byId = found.get(key);
    if (!byId) found.set(key, (byId = new Map()));
    byId.set(String(row.id), { id: row.id, content: row.content });
  }
  return conditions.map((c) => [...(found.get(keyOf(c.resourceType, c.system, c.value))?.values() ?? [])]);
}
