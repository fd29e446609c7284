import type { SortRule } from '@medplum/core';
import type { Knex } from 'knex';
import { indexKindOf, whereParam } from './filter-conditions';
import { IndexKind, INDEX_TABLES } from './search-migrations';
import { invalidSearchValue, SearchContext } from './search-context';
import { searchParameter } from './search-parameters';
import { COMBO_SORT_PARAM } from './combo-index';

/**
 * `_sort` keys as scalar subqueries over the index tables. A resource with several values sorts by its lowest value
 * ascending and its highest descending (R4 search §3.1.1.2.3.1); one without a value sorts last either way.
 */
export interface SortKey {
  /** Column of the derived table (`s0`, `s1`, …). */
  column: string;
  descending: boolean;
  /** Computed from fhir_resources' row, already aliased as `column` for the inner query's select list. */
  select: Knex.QueryBuilder | Knex.Raw;
  /** Whether the value can be missing: such keys are ordered by a null flag first. */
  nullable: boolean;
}

export interface SortPlan {
  keys: SortKey[];
  /** The final tie-breaker, so that the order is total and a cursor is exact. */
  idDescending: boolean;
  /** What the cursor must have been made for. */
  fingerprint: string;
}

const SORT_COLUMN: Record<IndexKind, [ascending: string, descending: string]> = {
  string: ['value', 'value'], token: ['value', 'value'], reference: ['reference', 'reference'], date: ['low', 'high'],
  number: ['low', 'high'], quantity: ['value', 'value'], uri: ['value', 'value'],
};

/**
 * `combo`: the alias of a combo row joined one per resource (search-index.ts), whose `date_low` / `date_high` are the
 * resource's sort values of COMBO_SORT_PARAM, the same values the subquery below would find.
 */
export function planSort(ctx: SearchContext, resourceType: string, outer: string, rules: SortRule[] | undefined, combo?: string): SortPlan {
  const keys: SortKey[] = [];
  const used: string[] = [];
  let idDescending = false;
  for (const rule of rules ?? []) {
    const descending = Boolean(rule.descending);
    if (rule.code === '_id') {
      idDescending = descending;
      used.push(`${descending ? '-' : ''}_id`);
      break; // ids are unique: later keys could never matter
    }
    const column = `s${keys.length}`;
    if (rule.code === '_lastUpdated') {
      keys.push({ column, descending, select: ctx.db.raw('?? as ??', [`${outer}.last_updated`, column]), nullable: false });
      used.push(`${descending ? '-' : ''}_lastUpdated`);
      continue;
    }
    if (combo && rule.code === COMBO_SORT_PARAM) {
      keys.push({ column, descending, select: ctx.db.raw('?? as ??', [`${combo}.date_${SORT_COLUMN.date[descending ? 1 : 0]}`, column]), nullable: true });
      used.push(`${descending ? '-' : ''}${rule.code}`);
      continue;
    }
    const param = searchParameter(resourceType, rule.code);
    const kind = param && indexKindOf(param);
    if (!kind) {
      ctx.reject('_sort', `Cannot sort ${resourceType} by "${rule.code}": ${param ? 'unsupported parameter type' : 'unknown search parameter'}`);
      continue;
    }
    const a = ctx.alias('o');
    const value = `${a}.${SORT_COLUMN[kind][descending ? 1 : 0]}`;
    // GROUP BY keeps planners from answering min/max by walking the (param, value) index and filtering on the
    // resource id, which is a scan per row; the owner index finds the handful of rows of this resource instead.
    const sub = whereParam(ctx.db(`${INDEX_TABLES[kind]} as ${a}`)
      .where(`${a}.resource_type`, resourceType).where(`${a}.resource_id`, ctx.db.ref(`${outer}.id`)), `${a}.param`, resourceType, rule.code)
      .groupBy(`${a}.resource_id`);
    if (descending) sub.max(value);
    else sub.min(value);
    keys.push({ column, descending, select: sub.as(column), nullable: true });
    used.push(`${descending ? '-' : ''}${rule.code}`);
  }
  return { keys, idDescending, fingerprint: used.join(',') };
}

type CursorValue = string | number | null;

interface CursorContent {
  /** The `_sort` the cursor belongs to. */
  f: string;
  /** Sort key values of the last row of the previous page, then its id. */
  k: CursorValue[];
}

export function encodeCursor(plan: SortPlan, row: Record<string, unknown>): string {
  const k: CursorValue[] = plan.keys.map((key) => normalizeCursorValue(row[key.column]));
  k.push(String(row.id));
  return Buffer.from(JSON.stringify({ f: plan.fingerprint, k } satisfies CursorContent)).toString('base64url');
}

export function decodeCursor(plan: SortPlan, cursor: string): CursorValue[] {
  let content: CursorContent;
  try {
    content = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidSearchValue('_cursor', 'The paging cursor is not one this server issued');
  }
  if (!content || content.f !== plan.fingerprint || !Array.isArray(content.k) || content.k.length !== plan.keys.length + 1) {
    throw invalidSearchValue('_cursor', 'The paging cursor belongs to a different search (its _sort differs); start again from the first page');
  }
  return content.k;
}

/**
 * Which of a cursor's values are null (`v`/`n` each), read without its plan: the one thing in a cursor that changes
 * a page's SQL. Undefined for a cursor this server did not issue (decodeCursor then says why).
 */
export function cursorShape(cursor: string): string | undefined {
  try {
    const content = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorContent;
    if (!content || typeof content.f !== 'string' || !Array.isArray(content.k)) return undefined;
    return `${content.f}:${content.k.map((v) => (v === null ? 'n' : 'v')).join('')}`;
  } catch {
    return undefined;
  }
}

function normalizeCursorValue(value: unknown): CursorValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return Number(value);
  return String(value);
}

/**
 * Rows strictly after the cursor in the plan's order: (k0, k1, …, id) > (v0, v1, …, vid) lexicographically, each
 * key compared in its own direction, a nullable key as (is-null flag ascending, value). Columns are those of the
 * derived table aliased `q`.
 */
export function applyKeyset(qb: Knex.QueryBuilder, plan: SortPlan, values: CursorValue[]): void {
  const items: Array<{ sql: string; descending: boolean; value: CursorValue }> = [];
  plan.keys.forEach((key, i) => {
    const v = values[i];
    if (key.nullable) items.push({ sql: nullFlag(key), descending: false, value: v === null ? 1 : 0 });
    // Rows after a missing value have missing values too; only the next keys decide among them.
    if (v !== null) items.push({ sql: `q.${key.column}`, descending: key.descending, value: v });
  });
  items.push({ sql: 'q.id', descending: plan.idDescending, value: values[values.length - 1] });
  qb.where((outer) => {
    items.forEach((item, i) => {
      outer.orWhere((b) => {
        for (const prior of items.slice(0, i)) b.whereRaw(`${prior.sql} = ?`, [prior.value as string | number]);
        b.whereRaw(`${item.sql} ${item.descending ? '<' : '>'} ?`, [item.value as string | number]);
      });
    });
  });
}

/**
 * Missing values sort last, in either direction. `nullsLast`: the database takes `NULLS LAST` (PostgreSQL, SQLite),
 * which PostgreSQL sorts on the key alone; the portable null flag made it compute a key's subquery twice per row
 * (the flag's and the key's), a fifth of a chart search's SQL time.
 */
export function applyOrder(qb: Knex.QueryBuilder, plan: SortPlan, nullsLast = false): void {
  for (const key of plan.keys) {
    const direction = key.descending ? 'desc' : 'asc';
    if (key.nullable && nullsLast) {
      qb.orderByRaw(`q.${key.column} ${direction} nulls last`);
      continue;
    }
    if (key.nullable) qb.orderByRaw(`${nullFlag(key)} asc`);
    qb.orderBy(`q.${key.column}`, direction);
  }
  qb.orderBy('q.id', plan.idDescending ? 'desc' : 'asc');
}

function nullFlag(key: SortKey): string {
  return `(case when q.${key.column} is null then 1 else 0 end)`;
}
