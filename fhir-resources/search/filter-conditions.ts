import { Filter, splitSearchOnComma } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { dialectOf } from '../../engine/db';
import { IndexKind, INDEX_TABLES } from './search-migrations';
import { invalidSearchValue, SearchContext } from './search-context';
import { COLUMN_PARAMETERS, searchParameter, searchParametersOf, storedParameters } from './search-parameters';
import { applyCompartment } from './compartment-filter';
import { applyHas } from './reverse-chain';
import { BARE_ID, parseReferenceTarget } from './reference-target';
import { splitTokenValue } from './token-value';
import { hasChinese, normalizeText, pinyinQuery, escapeLike } from './text-normalization';
import { approximateDateRange, dateSearchRange, InstantRange, numberSearchRange, splitPrefix } from './value-ranges';

/**
 * One search filter as SQL: a condition on the fhir_resources row aliased `outer`, mostly an EXISTS over the index
 * table of the parameter's type. Values separated by commas are ORed inside one condition; repeated parameters are
 * separate filters and so ANDed (R4 search §3.1.1.5).
 */
type Builder = Knex.QueryBuilder;

const KIND_OF_TYPE: Record<string, IndexKind> = {
  string: 'string', token: 'token', reference: 'reference', date: 'date', number: 'number', quantity: 'quantity', uri: 'uri',
};

export function indexKindOf(param: SearchParameter): IndexKind | undefined {
  return KIND_OF_TYPE[param.type ?? ''];
}

const ORDERED = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

/**
 * The modifiers and prefixes `applyFilter` executes for each kind of parameter (as @medplum/core's parser names
 * them: no modifier is `eq`, a prefix is the operator). Anything else is refused through SearchContext.reject; the
 * CapabilityStatement describes the same table, so it cannot claim more than this code does.
 */
export const SUPPORTED_OPERATORS: Readonly<Record<IndexKind, readonly string[]>> = {
  string: ['eq', 'exact', 'contains', 'missing'],
  token: ['eq', 'not', 'text', 'in', 'not-in', 'missing'],
  reference: ['eq', 'missing'],
  date: [...ORDERED, 'missing'],
  number: [...ORDERED, 'missing'],
  quantity: [...ORDERED, 'missing'],
  uri: ['eq', 'below', 'missing'],
};

/** The same for the parameters answered from fhir_resources' own columns (applyId, applyLastUpdated). */
export const COLUMN_OPERATORS: Readonly<Record<string, readonly string[]>> = {
  _id: ['eq', 'not', 'missing'],
  _lastUpdated: [...ORDERED, 'missing'],
};

/** The search parameters of `resourceType` (besides `_id` / `_lastUpdated`) that this module can execute. */
export function executableParameters(resourceType: string): Array<{ code: string; param: SearchParameter; kind: IndexKind }> {
  return Object.entries(searchParametersOf(resourceType)).flatMap(([code, param]) => {
    const kind = indexKindOf(param);
    return kind && !COLUMN_PARAMETERS.has(code) && !SPECIAL_CODES.has(code) ? [{ code, param, kind }] : [];
  });
}

/** Codes with their own meaning here rather than their registry definition (see compartment-filter.ts). */
const SPECIAL_CODES = new Set(['_compartment']);

export function applyFilter(ctx: SearchContext, qb: Builder, resourceType: string, outer: string, filter: Filter): void {
  const { code, operator } = filter;
  if (code.startsWith('_has:')) return applyHas(ctx, qb, resourceType, outer, filter);
  if (code === '_compartment') return applyCompartment(ctx, qb, resourceType, outer, filter);
  if (code.includes('.')) return applyChain(ctx, qb, resourceType, outer, filter);
  if (code === '_id') return applyId(ctx, qb, outer, filter);
  if (code === '_lastUpdated') return applyLastUpdated(ctx, qb, outer, filter);
  const param = searchParameter(resourceType, code);
  if (!param) return ctx.reject(code, `Unknown search parameter "${code}" for ${resourceType}`);
  const kind = indexKindOf(param);
  if (!kind) return ctx.reject(code, `Search parameter "${code}" of type ${param.type} is not supported`);
  if (!SUPPORTED_OPERATORS[kind].includes(operator)) return unsupportedModifier(ctx, filter);
  if (operator === 'missing') return applyMissing(ctx, qb, kind, resourceType, outer, filter);
  const values = splitSearchOnComma(filter.value);
  switch (kind) {
    case 'string': {
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) => values.forEach((v) => b.orWhere((c) => stringMatch(c, a, operator, v))));
    }
    case 'token': {
      if (operator === 'text') {
        return exists(ctx, qb, kind, resourceType, outer, code, (b, a) => values.forEach((v) => b.orWhere((c) => textMatch(c, a, v))));
      }
      // Protected values (ID numbers, phones) are indexed as keyed digests: the searched code is digested alike.
      const stored = (v: string): string => ctx.privacy?.searchToken(resourceType, code, v) ?? v;
      if (operator === 'in' || operator === 'not-in') {
        const codes = ctx.valueSets.get(filter.value.split('|')[0]);
        if (!codes) return ctx.reject(code, `:${operator} is supported on a parameter of the searched type, not inside a chain or _has`);
        return exists(ctx, qb, kind, resourceType, outer, code, (b, a) => inValueSet(b, a, codes, stored), operator === 'not-in');
      }
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) => values.forEach((v) => b.orWhere((c) => tokenMatch(c, a, v, stored))), operator === 'not');
    }
    case 'reference': {
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) => values.forEach((v) => b.orWhere((c) => referenceMatch(c, a, param, v))));
    }
    case 'date': {
      const ranges = values.map((v) => splitPrefix(operator, v)).map(({ prefix, value }) => ({ prefix, range: dateSearchRange(code, value) }));
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) =>
        ranges.forEach(({ prefix, range }) => b.orWhere((c) => dateMatch(c, `${a}.low`, `${a}.high`, prefix, range))));
    }
    case 'number': {
      const ranges = values.map((v) => splitPrefix(operator, v));
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) =>
        ranges.forEach(({ prefix, value }) => b.orWhere((c) => numberMatch(c, `${a}.low`, `${a}.high`, prefix, code, value))));
    }
    case 'quantity': {
      const parsed = values.map((v) => splitPrefix(operator, v));
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) =>
        parsed.forEach(({ prefix, value }) => b.orWhere((c) => quantityMatch(c, a, prefix, code, value))));
    }
    case 'uri': {
      return exists(ctx, qb, kind, resourceType, outer, code, (b, a) =>
        values.forEach((v) => (operator === 'below' ? b.orWhereRaw(`?? like ? escape '!'`, [`${a}.value`, `${escapeLike(v)}%`]) : b.orWhere(`${a}.value`, v))));
    }
  }
}

function unsupportedModifier(ctx: SearchContext, filter: Filter): void {
  ctx.reject(filter.code, `Modifier or prefix "${filter.operator}" is not supported on "${filter.code}"`);
}

/**
 * A row of the parameter in its index table, narrowed by `match`, exists (or, negated, does not). The search's first
 * positive filter (the caller orders references first, as the most selective) becomes `id IN (uncorrelated
 * subquery)`, which planners start from through the `(resource_type, param, value)` index; with correlated EXISTS
 * only, SQLite visited every row of the type and probed each filter per row (a chart query scanned all
 * Observations). The other filters are an owner-index probe per driving row, where an IN would materialise, e.g.,
 * every Observation with a common code. They go inside the driving subquery on its resource_id (the same resource,
 * so the same condition): a candidate that fails them is dropped from the index rows alone, before its
 * fhir_resources row is read (a chart search probed 100 rows for a code that 10 had). A positive one is a join
 * there, not a correlated EXISTS: the IN ignores the duplicates a join can make, and SQLite runs a join's probe for a
 * quarter less than a subquery's (0.32 against 0.43 ms for a chart search's 100 probes).
 */
function exists(
  ctx: SearchContext, qb: Builder, kind: IndexKind, resourceType: string, outer: string, param: string,
  match: ((b: Builder, alias: string) => void) | undefined, negate = false,
): void {
  const a = ctx.alias();
  const driver = !negate && ctx.takeDriver(outer);
  const sub = driver ? ctx.db(`${INDEX_TABLES[kind]} as ${a}`).select(`${a}.resource_id`) : ownerProbe(ctx, kind, a);
  whereParam(sub.where(`${a}.resource_type`, resourceType), `${a}.param`, resourceType, param);
  if (match) sub.where((b) => match(b, a));
  if (driver) return ctx.drive(qb, outer, sub, a);
  const driving = outer === ctx.driverAlias ? ctx.driving : undefined;
  if (driving && !negate) {
    whereParam(driving.query.join(ownerTable(ctx, kind, a), `${a}.resource_id`, `${driving.alias}.resource_id`)
      .where(`${a}.resource_type`, resourceType), `${a}.param`, resourceType, param);
    if (match) driving.query.where((b) => match(b, a));
    return;
  }
  const target = driving?.query ?? qb;
  const owner = ctx.db.ref(driving ? `${driving.alias}.resource_id` : `${outer}.id`);
  if (negate) target.whereNotExists(sub.where(`${a}.resource_id`, owner));
  else target.whereExists(sub.where(`${a}.resource_id`, owner));
}

/** Rows of the parameter `code`: for a union parameter, of its members (storedParameters). */
export function whereParam(b: Builder, column: string, resourceType: string, code: string): Builder {
  const stored = storedParameters(resourceType, code);
  return stored.length === 1 ? b.where(column, stored[0]) : b.whereIn(column, [...stored]);
}

/**
 * `SELECT 1` from the index table for a per-row probe. Without statistics (SQLite has no auto-ANALYZE) SQLite rates
 * the `(resource_type, param, value)` index as good as the owner index and scanned, e.g., every row of a common
 * code for each candidate; the owner index finds the handful of rows of one resource.
 */
function ownerProbe(ctx: SearchContext, kind: IndexKind, alias: string): Builder {
  return ctx.db.from(ownerTable(ctx, kind, alias) as string).select(ctx.db.raw('1'));
}

function ownerTable(ctx: SearchContext, kind: IndexKind, alias: string): string | Knex.Raw {
  const table = INDEX_TABLES[kind];
  return dialectOf(ctx.db as Knex) === 'sqlite' ? ctx.db.raw(`?? as ?? indexed by ??`, [table, alias, `${table}_owner`]) : `${table} as ${alias}`;
}

function applyMissing(ctx: SearchContext, qb: Builder, kind: IndexKind, resourceType: string, outer: string, filter: Filter): void {
  if (filter.value !== 'true' && filter.value !== 'false') {
    throw invalidSearchValue(filter.code, `:missing takes true or false, not "${filter.value}"`);
  }
  exists(ctx, qb, kind, resourceType, outer, filter.code, undefined, filter.value === 'true');
}

function like(b: Builder, column: string, pattern: string): void {
  b.orWhereRaw(`?? like ? escape '!'`, [column, pattern]);
}

/**
 * Default: starts-with on the normalised value; Chinese text also matches anywhere inside (names and item names are
 * not split into words), and Latin letters also match the start of the pinyin initials or full pinyin.
 */
function stringMatch(b: Builder, a: string, operator: string, value: string): void {
  if (operator === 'exact') {
    b.where(`${a}.value_exact`, value);
    return;
  }
  const norm = normalizeText(value);
  const py = pinyinQuery(value);
  const anywhere = operator === 'contains';
  like(b, `${a}.value`, anywhere || hasChinese(norm) ? `%${escapeLike(norm)}%` : `${escapeLike(norm)}%`);
  if (py) {
    like(b, `${a}.initials`, anywhere ? `%${escapeLike(py)}%` : `${escapeLike(py)}%`);
    like(b, `${a}.pinyin`, anywhere ? `%${escapeLike(py)}%` : `${escapeLike(py)}%`);
  }
}

/** `:text` on tokens: the display / text anywhere, or pinyin initials / full pinyin from the start. */
function textMatch(b: Builder, a: string, value: string): void {
  const norm = normalizeText(value);
  like(b, `${a}.text`, `%${escapeLike(norm)}%`);
  const py = pinyinQuery(value);
  if (py) {
    like(b, `${a}.text_initials`, `${escapeLike(py)}%`);
    like(b, `${a}.text_pinyin`, `${escapeLike(py)}%`);
  }
}

/** `code`, `system|code`, `|code` (no system), `system|` (any code of the system). */
function tokenMatch(b: Builder, a: string, value: string, stored: (code: string) => string = (c) => c): void {
  const { system, code: rawCode } = splitTokenValue(value);
  if (system === undefined) {
    b.where(`${a}.value`, stored(rawCode));
    return;
  }
  const code = rawCode === '' ? '' : stored(rawCode);
  if (system === '') b.whereNull(`${a}.system`).where(`${a}.value`, code);
  else if (code === '') b.where(`${a}.system`, system);
  else b.where(`${a}.system`, system).where(`${a}.value`, code);
}

/**
 * A code of one of the value set's systems; an empty expansion matches nothing. A value indexed without a system
 * is an element of type `code` (gender, status), whose system is the one its binding implies: it matches by code.
 */
function inValueSet(b: Builder, a: string, codes: Map<string, Set<string>>, stored: (code: string) => string): void {
  if (codes.size === 0) b.whereRaw('1 = 0');
  for (const [system, set] of codes) {
    const values = [...set].map(stored);
    // In slices, below every driver's bound-parameter limit (older SQLite builds: 999).
    for (let i = 0; i < values.length; i += 500) b.orWhere((c) => c.where((w) => w.where(`${a}.system`, system).orWhereNull(`${a}.system`)).whereIn(`${a}.value`, values.slice(i, i + 500)));
  }
}

/** `Type/id`, an absolute URL ending in `Type/id`, a bare id (typed when the parameter has one target), or a canonical. */
function referenceMatch(b: Builder, a: string, param: SearchParameter, value: string): void {
  const target = parseReferenceTarget(value);
  if (target) {
    // A stored reference equal to `value` parses to the same target, so matching the target alone finds it too,
    // and keeps the condition on the (resource_type, param, target_id) index.
    b.where(`${a}.target_type`, target.type).where(`${a}.target_id`, target.id);
  } else if (BARE_ID.test(value)) {
    b.where(`${a}.target_id`, value);
    if (param.target?.length === 1) b.where(`${a}.target_type`, param.target[0]);
  } else {
    b.where(`${a}.reference`, value);
  }
}

/**
 * Prefix semantics between the stored range [low, high] and the search range (R4 search §3.1.1.4): `eq` = stored
 * range inside the search range; `gt`/`lt` = some of the stored range after/before it; `sa`/`eb` = all of it.
 */
export function dateMatch(b: Builder, low: string, high: string, prefix: string, s: InstantRange): void {
  switch (prefix) {
    case 'ne': b.where((c) => c.where(low, '<', s.low).orWhere(high, '>', s.high)); break;
    case 'gt': b.where(high, '>', s.high); break;
    case 'lt': b.where(low, '<', s.low); break;
    case 'ge': b.where(high, '>=', s.low); break;
    case 'le': b.where(low, '<=', s.high); break;
    case 'sa': b.where(low, '>', s.high); break;
    case 'eb': b.where(high, '<', s.low); break;
    case 'ap': {
      const w = approximateDateRange(s);
      b.where(low, '<=', w.high).where(high, '>=', w.low);
      break;
    }
    default: b.where(low, '>=', s.low).where(high, '<=', s.high);
  }
}

function numberMatch(b: Builder, low: string, high: string, prefix: string, param: string, text: string): void {
  const s = numberSearchRange(param, text);
  const v = s.value;
  switch (prefix) {
    case 'ne': b.where((c) => c.where(low, '<', s.low).orWhere(high, '>=', s.high)); break;
    case 'gt': b.where(high, '>', v); break;
    case 'lt': b.where(low, '<', v); break;
    case 'ge': b.where(high, '>=', v); break;
    case 'le': b.where(low, '<=', v); break;
    case 'sa': b.where(low, '>', v); break;
    case 'eb': b.where(high, '<', v); break;
    case 'ap': b.where(low, '<=', v + Math.abs(v) * 0.1).where(high, '>=', v - Math.abs(v) * 0.1); break;
    default: b.where(low, '>=', s.low).where(high, '<', s.high);
  }
}

/** `[prefix]number|system|code`; with no system the code matches the coded unit or the human unit. */
function quantityMatch(b: Builder, a: string, prefix: string, param: string, value: string): void {
  const [number, system, code] = value.split('|');
  numberMatch(b, `${a}.value`, `${a}.value`, prefix, param, number);
  if (system) b.where(`${a}.system`, system);
  if (code) {
    if (system) b.where(`${a}.code`, code);
    else b.where((c) => c.where(`${a}.code`, code).orWhere(`${a}.unit`, code));
  }
}

function applyId(ctx: SearchContext, qb: Builder, outer: string, filter: Filter): void {
  if (!COLUMN_OPERATORS._id.includes(filter.operator)) return unsupportedModifier(ctx, filter);
  const ids = splitSearchOnComma(filter.value);
  if (filter.operator === 'eq') qb.whereIn(`${outer}.id`, ids);
  else if (filter.operator === 'not') qb.whereNotIn(`${outer}.id`, ids);
  else if (filter.value === 'true') qb.whereRaw('1 = 0'); // :missing
}

function applyLastUpdated(ctx: SearchContext, qb: Builder, outer: string, filter: Filter): void {
  if (filter.operator === 'missing') {
    if (filter.value === 'true') qb.whereRaw('1 = 0');
    return;
  }
  if (!COLUMN_OPERATORS._lastUpdated.includes(filter.operator)) return unsupportedModifier(ctx, filter);
  const column = `${outer}.last_updated`;
  const ranges = splitSearchOnComma(filter.value).map((v) => splitPrefix(filter.operator, v))
    .map(({ prefix, value }) => ({ prefix, range: dateSearchRange(filter.code, value) }));
  qb.where((b) => ranges.forEach(({ prefix, range }) => b.orWhere((c) => dateMatch(c, column, column, prefix, range))));
}

/**
 * `subject:Patient.identifier=…` / `subject.name=…`: a reference of this resource whose target (one of the named or
 * allowed types) is a live resource matching the rest of the chain.
 */
function applyChain(ctx: SearchContext, qb: Builder, resourceType: string, outer: string, filter: Filter): void {
  const dot = filter.code.indexOf('.');
  const [base, typeHint] = filter.code.slice(0, dot).split(':');
  const chained = filter.code.slice(dot + 1);
  const param = searchParameter(resourceType, base);
  if (!param || param.type !== 'reference') {
    return ctx.reject(filter.code, `"${base}" is not a reference search parameter of ${resourceType}, so it cannot be chained`);
  }
  const first = chained.split(/[.:]/)[0];
  const types = (typeHint ? [typeHint] : param.target ?? [])
    .filter((t) => first === '_id' || first === '_lastUpdated' || searchParameter(t, first) !== undefined);
  if (types.length === 0) return ctx.reject(filter.code, `No target type of "${base}" has a search parameter "${first}"`);
  exists(ctx, qb, 'reference', resourceType, outer, base, (b, a) => {
    for (const type of types) {
      b.orWhere((c) => {
        const t = ctx.alias('t');
        const target = ctx.db(`fhir_resources as ${t}`).select(ctx.db.raw('1'))
          .where(`${t}.resource_type`, type).where(`${t}.id`, ctx.db.ref(`${a}.target_id`)).where(`${t}.deleted`, false);
        // A chain may only look at targets the caller may see, or it would reveal facts about them.
        ctx.restrict(target, type, t);
        applyFilter(ctx, target, type, t, { code: chained, operator: filter.operator, value: filter.value });
        c.where(`${a}.target_type`, type).whereExists(target);
      });
    }
  });
}
