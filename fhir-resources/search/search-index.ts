import type { Filter, SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { SearchOptions, SearchResult } from '../store/repository';
import type { IndexTableRows, SearchIndex } from '../store/search-index-port';
import { ContentCodec, plainJsonContent } from '../store/content-codec';
import { nativeRows, nativeRowsAvailable, pgNamedRows, sqliteReaderRows } from '../store/prepared-statements';
import { dialectOf } from '../../engine/db';
import type { IndexPrivacy } from './index-privacy';
import { applyFilter } from './filter-conditions';
import { loadIncluded } from './includes';
import { matcherFor } from './may-match';
import { extractIndexRows, INDEX_COLUMNS } from './index-rows';
import { identifierCondition, lookUpIdentifiers, type IdentifierCondition } from './identifier-lookup';
import { shapeResource } from './result-shaping';
import { SearchContext } from './search-context';
import { COMBO_COLUMNS, COMBO_SORT_PARAM, comboNames, ComboPlan, comboRows, planCombo } from './combo-index';
import { bindTemplate, PageTemplate, PageTemplates, slotMarker } from './page-templates';
import { COMBO_TABLE, IndexKind, INDEX_TABLES, migrateFhirSearch } from './search-migrations';
import { ensureSearchDefinitions, searchParameter } from './search-parameters';
import { parseFhirSearchUrl } from './search-request';
import { resolveValueSets } from './value-set-codes';
import { applyKeyset, applyOrder, cursorShape, decodeCursor, encodeCursor, planSort, type SortPlan } from './sort-keys';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 1000;

/** Rows per INSERT: well under SQLite's bound-variable limit for the widest table (11 columns). */
const INSERT_BATCH = 200;
const KINDS = Object.keys(INDEX_TABLES) as IndexKind[];
/** An index table's columns, its owner's first. */
const OWNED_COLUMNS = {} as Record<IndexKind, readonly string[]>;
for (const kind of KINDS) OWNED_COLUMNS[kind] = ['resource_type', 'resource_id', ...INDEX_COLUMNS[kind]];
const COMBO_OWNED_COLUMNS = ['resource_type', 'resource_id', ...COMBO_COLUMNS];
/** The columns that hold numbers (doubles, search-migrations.ts); every other index column is text. */
const NUMBER_COLUMNS = new Set(['fhir_idx_number.low', 'fhir_idx_number.high', 'fhir_idx_quantity.value']);
const pgTypesOf = (table: string, columns: readonly string[]): string[] => columns.map((c) => (NUMBER_COLUMNS.has(`${table}.${c}`) ? 'float8' : 'text'));
const OWNED_PG_TYPES = {} as Record<IndexKind, readonly string[]>;
for (const kind of KINDS) OWNED_PG_TYPES[kind] = pgTypesOf(INDEX_TABLES[kind], OWNED_COLUMNS[kind]);
const COMBO_PG_TYPES = pgTypesOf(COMBO_TABLE, COMBO_OWNED_COLUMNS);

/**
 * FHIR search over fhir_resources and the `fhir_idx_*` tables with plain knex, so the same SQL runs on SQLite,
 * PostgreSQL and MySQL/MariaDB. Index rows are written in the caller's transaction; pages are keyset (seek) pages on
 * (sort values…, id), so a page boundary never moves when rows are inserted or updated elsewhere in the table.
 */
export interface KnexSearchIndexOptions {
  /** Decodes stored content (the store's codec: field encryption when the privacy module is on). */
  codec?: ContentCodec;
  /** Indexes protected values as keyed digests and searches them the same way. */
  privacy?: IndexPrivacy;
  /** Searches through the combo rows (combo-index.ts) where they apply; they are written either way. Default on. */
  combos?: boolean;
}

export class KnexSearchIndex implements SearchIndex {
  readonly indexTables: readonly string[] = [...Object.values(INDEX_TABLES), COMBO_TABLE];
  private readonly codec: ContentCodec;
  private readonly templates = new PageTemplates();

  constructor(private readonly options: KnexSearchIndexOptions = {}) {
    ensureSearchDefinitions();
    this.codec = options.codec ?? plainJsonContent;
  }

  async migrate(db: Knex): Promise<void> {
    await migrateFhirSearch(db);
  }

  async index(trx: Knex.Transaction, resource: Resource, fresh = false): Promise<void> {
    await this.indexMany(trx, [resource], fresh);
  }

  indexRows(resource: Resource): IndexTableRows[] {
    if (!resource.id) throw new Error(`cannot index a ${resource.resourceType} without an id`);
    const own = extractIndexRows(this.options.privacy ? this.options.privacy.forIndex(resource) : resource);
    const tables: IndexTableRows[] = [];
    for (const kind of KINDS) {
      if (own[kind].length === 0) continue;
      const columns = INDEX_COLUMNS[kind];
      const values = own[kind].map((row) => [resource.resourceType, resource.id as string, ...columns.map((c) => row[c] ?? null)]);
      tables.push({ table: INDEX_TABLES[kind], columns: OWNED_COLUMNS[kind], pgTypes: OWNED_PG_TYPES[kind], values });
    }
    const combos = comboRows(resource.resourceType, own);
    if (combos.length > 0) {
      tables.push({
        table: COMBO_TABLE, columns: COMBO_OWNED_COLUMNS, pgTypes: COMBO_PG_TYPES, values: combos.map((c) => [resource.resourceType, resource.id as string, ...c]),
      });
    }
    return tables;
  }

  /**
   * Replaces the index rows of many resources with a handful of statements (bulk loads, transaction Bundles).
   * `fresh`: first versions, which have no rows yet; skipping the seven DELETEs was a third of a create's statements.
   */
  async indexMany(trx: Knex.Transaction, resources: Resource[], fresh = false): Promise<void> {
    const byType = new Map<string, string[]>();
    for (const r of resources) {
      if (!r.id) throw new Error(`cannot index a ${r.resourceType} without an id`);
      byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r.id]);
    }
    if (!fresh) for (const [type, ids] of byType) await this.deleteRows(trx, type, ids);
    const tables = new Map<string, Array<Record<string, unknown>>>();
    for (const resource of resources) {
      for (const { table, columns, values } of this.indexRows(resource)) {
        const rows = tables.get(table) ?? [];
        for (const v of values) rows.push(Object.fromEntries(columns.map((c, i) => [c, v[i]])));
        tables.set(table, rows);
      }
    }
    for (const [table, rows] of tables) {
      for (let i = 0; i < rows.length; i += INSERT_BATCH) await trx(table).insert(rows.slice(i, i + INSERT_BATCH));
    }
  }

  async unindex(trx: Knex.Transaction, resourceType: string, id: string): Promise<void> {
    await this.deleteRows(trx, resourceType, [id]);
  }

  private async deleteRows(trx: Knex.Transaction, resourceType: string, ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const table of this.indexTables) {
        await trx(table).where('resource_type', resourceType).whereIn('resource_id', chunk).delete();
      }
    }
  }

  matcherFor(resource: Resource): (request: SearchRequest) => boolean {
    return matcherFor(resource);
  }

  parse(url: string): SearchRequest {
    return parseFhirSearchUrl(url);
  }

  async search(db: Knex | Knex.Transaction, request: SearchRequest, options: SearchOptions = {}): Promise<SearchResult> {
    const query = await this.prepare(db, request, options);
    if (!('plan' in query)) return query;
    const condition = query.page && identifierCondition(db, request, options, this.options.privacy);
    if (condition) return this.finish(query, (await lookUpIdentifiers(db, [condition]))[0].slice(0, query.count + 1));
    return this.finish(query, await pageRows(db, query));
  }

  /**
   * Several searches with one round trip where their pages can share one (no sort keys, no _include or
   * _revinclude: a conditional interaction's condition): their pages are joined by UNION ALL, each row tagged with
   * its search. The others run one by one. Results in the order of `requests`.
   */
  async searchMany(db: Knex | Knex.Transaction, requests: SearchRequest[], options: SearchOptions = {}): Promise<SearchResult[]> {
    const queries: Array<PageQuery | SearchResult> = [];
    for (const request of requests) queries.push(await this.prepare(db, request, options));
    const shareable = (q: PageQuery | SearchResult): q is PageQuery & { page: Knex.QueryBuilder } =>
      'plan' in q && q.page !== undefined && q.plan.keys.length === 0 && !q.request.include?.length && !q.request.revInclude?.length;
    const shared = queries.filter(shareable);
    const rowsOf = new Map<PageQuery, Array<Record<string, unknown>>>();
    // Conditions on identifiers are answered together (identifier-lookup.ts); the rest share a union.
    const conditions = new Map<PageQuery, IdentifierCondition>();
    for (const q of shared) {
      const condition = identifierCondition(db, q.request, options, this.options.privacy);
      if (condition) conditions.set(q, condition);
    }
    if (conditions.size > 0) {
      const found = await lookUpIdentifiers(db, [...conditions.values()], options.lockMatches);
      [...conditions.keys()].forEach((q, i) => rowsOf.set(q, found[i].slice(0, q.count + 1)));
    }
    // One search alone gains nothing from a union: it runs as the others do.
    const rest = shared.filter((q) => !conditions.has(q));
    const together = rest.length > 1 ? rest : [];
    for (const q of together) rowsOf.set(q, []);
    if (together.length > 0) {
      // Each member's ORDER BY and LIMIT sit inside its derived table, so the members need no parentheses (which
      // SQLite refuses); the tag is a literal, the index of the search in `together`.
      const [first, ...others] = together.map(({ page }, k) => db.from(page.as(`m${k}`)).select(db.raw(`${k} as search_k`), `m${k}.id`, `m${k}.content`));
      for (const row of (await first.unionAll(others)) as Array<Record<string, unknown>>) rowsOf.get(together[Number(row.search_k)])!.push(row);
    }
    const results: SearchResult[] = [];
    for (const q of queries) results.push('plan' in q ? await this.finish(q, rowsOf.get(q) ?? await pageRows(db, q)) : q);
    return results;
  }

  /**
   * A search's SQL up to its page query, or its whole result where it needs no page (`_summary=count`). A shape that
   * page-templates.ts can repeat is built once with markers for its values (`templated`), then filled in.
   */
  private async prepare(db: Knex | Knex.Transaction, request: SearchRequest, options: SearchOptions, templated = true): Promise<PageQuery | SearchResult> {
    const ctx = new SearchContext(db, Boolean(options.strict), options.restriction, this.options.privacy);
    const type = request.resourceType;
    const count = Math.min(Math.max(request.count ?? DEFAULT_PAGE_SIZE, 0), MAX_PAGE_SIZE);
    let filters = request.filters ?? [];
    const combo = this.options.combos === false ? undefined : planCombo(type, filters, (param, code) => ctx.privacy?.searchToken(type, param, code) ?? code);
    const templateKey = templated && combo ? this.templateKey(db, request, options, combo, count) : undefined;
    const known = templateKey ? this.templates.get(templateKey) : undefined;
    if (known) return templatedPage(ctx, request, count, known, combo!.value);

    const base = db('fhir_resources as r').where('r.resource_type', type).where('r.deleted', false);
    ctx.restrict(base, type, 'r');
    await resolveValueSets(ctx, filters, this.codec);
    let sortedByCombo: string | undefined;
    if (combo && ctx.takeDriver('r')) {
      const value = templateKey ? slotMarker(0) : combo.value;
      // The rows of the combo and of those that narrow it (a subject search reads the patient rows too).
      const names = comboNames(type, combo.name);
      const comboRange = (q: Knex.QueryBuilder) => q.where('c0.resource_type', type).whereIn('c0.param', names).where('c0.value', value);
      if (sortsByComboDate(request)) {
        // A chart read newest first: the combo's rows are joined, one per resource, and carry the sort date. Other
        // filters are then a probe of their owner index per candidate (filter-conditions.ts `exists`, no driver).
        comboRange(base.join(`${COMBO_TABLE} as c0`, (j) => j.on('c0.resource_type', 'r.resource_type').andOn('c0.resource_id', 'r.id')));
        sortedByCombo = 'c0';
      } else {
        // The combo's rows drive the query as the first positive filter would (filter-conditions, `exists`).
        ctx.drive(base, 'r', comboRange(db(`${COMBO_TABLE} as c0`).select('c0.resource_id')), 'c0');
      }
      filters = filters.filter((f) => !combo.consumed.has(f));
    }
    for (const filter of byDrivingOrder(type, filters)) applyFilter(ctx, base, type, 'r', filter);
    const plan = planSort(ctx, type, 'r', request.sortRules, sortedByCombo);
    const cursorValues = request.cursor ? decodeCursor(plan, request.cursor) : undefined;

    let total: number | undefined;
    // parseSearchRequest turns `_summary=count` into count 0 with total accurate.
    if (request.total === 'accurate' || count === 0) {
      const [row] = await base.clone().count({ n: '*' });
      total = Number((row as { n: unknown }).n);
    }
    if (count === 0) return withOutcome(ctx, { resources: [], included: [], total });

    const inner = base.clone().select('r.id', 'r.content');
    for (const key of plan.keys) inner.select(key.select);
    const page = db.from(inner.as('q')).select('*');
    // The cursor's non-null values are slots 1, 2, … of a template, in order.
    let slot = 1;
    if (cursorValues) applyKeyset(page, plan, templateKey ? cursorValues.map((v) => (v === null ? null : slotMarker(slot++))) : cursorValues);
    const dialect = dialectOf(db as Knex);
    applyOrder(page, plan, dialect === 'postgres' || dialect === 'sqlite');
    if (request.offset) page.offset(request.offset);
    page.limit(count + 1);
    if (templateKey) {
      const { sql, bindings } = page.toSQL().toNative();
      const template = ctx.warnings.length === 0 ? this.templates.remember(templateKey, sql, bindings, slot, plan) : undefined;
      // A shape that cannot be repeated (a rejected _sort key warns) is built again with its values.
      return template ? templatedPage(ctx, request, count, template, combo!.value) : this.prepare(db, request, options, false);
    }
    return { ctx, request, plan, count, total, page, planStable: combo !== undefined };
  }

  /**
   * The key of a search's page template, or undefined where the search is not of a shape one can serve: driven by a
   * combo row that stands for all its filters, no access restriction on its rows, no offset or total, run outside a
   * transaction where the SQL can be run as text (nativeRows). Within such a shape the SQL depends only on what the
   * key names: the dialect, the type, the combo, the sort, the page size and which of the cursor's values are null.
   */
  private templateKey(db: Knex | Knex.Transaction, request: SearchRequest, options: SearchOptions, combo: ComboPlan, count: number): string | undefined {
    if (combo.consumed.size !== (request.filters ?? []).length || request.offset || request.total === 'accurate' || count === 0) return undefined;
    if (options.restriction && !options.restriction.addsNothingFor?.(request.resourceType)) return undefined;
    if (!nativeRowsAvailable(db as Knex)) return undefined;
    const cursor = request.cursor ? cursorShape(request.cursor) : '-';
    if (cursor === undefined) return undefined;
    const sort = (request.sortRules ?? []).map((r) => `${r.descending ? '-' : ''}${r.code}`).join(',');
    return [dialectOf(db as Knex), request.resourceType, combo.name, sort, count, cursor].join('|');
  }

  /** The result of a page query from its rows. */
  private async finish({ ctx, request, plan, count, total }: PageQuery, rows: Array<Record<string, unknown>>): Promise<SearchResult> {
    const matches = rows.slice(0, count).map((row) => this.codec.decode(String(row.content)));
    const next = rows.length > count ? encodeCursor(plan, rows[count - 1]) : undefined;
    const included = await loadIncluded(ctx, request, matches, this.codec);
    const shape = (r: Resource): Resource => shapeResource(r, request.summary, request.fields);
    return withOutcome(ctx, { resources: matches.map(shape), included, total, next });
  }
}

/** A search ready to run: its page's SQL (count + 1 rows, for the next cursor) and what reading the rows needs. */
interface PageQuery {
  ctx: SearchContext;
  request: SearchRequest;
  plan: SortPlan;
  count: number;
  total: number | undefined;
  /** The page as a knex query, or (`native`) as SQL text and bindings from a template. */
  page?: Knex.QueryBuilder;
  native?: { sql: string; bindings: unknown[] };
  /**
   * Driven by a combo row (one equality on an index): the best plan is the same whatever the values, so PostgreSQL
   * may keep one (a named statement) instead of planning each search, which was half of a chart search's time. Other
   * shapes keep per-value plans: a generic plan made the chart search three times slower before combo rows.
   */
  planStable: boolean;
}

/** Whether every `_sort` key is one a combo row carries (or the id that ends every order anyway). */
function sortsByComboDate(request: SearchRequest): boolean {
  const rules = request.sortRules ?? [];
  return rules.length > 0 && rules.every((r) => r.code === COMBO_SORT_PARAM || r.code === '_id');
}

/**
 * Filters are ANDed, so their order changes only the SQL's shape: the first positive one drives the query (see
 * filter-conditions, `exists`), and a patient's compartment or a reference to one resource (a patient's chart) is
 * usually the narrowest, a token next; a stable sort keeps the client's order otherwise.
 */
function byDrivingOrder(type: string, filters: Filter[]): Filter[] {
  const rank = (f: Filter): number => {
    if (f.code === '_compartment') return -1;
    if (f.code.includes('.') || f.code.startsWith('_') || f.operator === 'not' || f.operator === 'missing') return 3;
    const kind = searchParameter(type, f.code)?.type;
    return kind === 'reference' ? 0 : kind === 'token' ? 1 : 2;
  };
  return filters.map((f, i) => ({ f, i, r: rank(f) })).sort((x, y) => x.r - y.r || x.i - y.i).map((x) => x.f);
}

/** A page of a known shape: the template's SQL with this search's combo value and cursor values. */
function templatedPage(ctx: SearchContext, request: SearchRequest, count: number, template: PageTemplate, comboValue: string): PageQuery {
  const cursorValues = request.cursor ? decodeCursor(template.plan, request.cursor) : [];
  const native = { sql: template.sql, bindings: bindTemplate(template, [comboValue, ...cursorValues.filter((v) => v !== null)]) };
  return { ctx, request, plan: template.plan, count, total: undefined, native, planStable: true };
}

/**
 * The rows of a page query: a template's SQL as text; outside transactions, a knex query on SQLite's read connection
 * or, when its plan is stable, as a PostgreSQL named statement; else through knex.
 */
async function pageRows(db: Knex | Knex.Transaction, query: PageQuery): Promise<Array<Record<string, unknown>>> {
  if (query.native) {
    const rows = await nativeRows(db as Knex, query.native.sql, query.native.bindings);
    if (!rows) throw new Error('a templated search page ran where its SQL cannot run as text');
    return rows;
  }
  const page = query.page as Knex.QueryBuilder;
  return (await sqliteReaderRows(db as Knex, page)) ?? (query.planStable ? await pgNamedRows(db as Knex, page) : undefined) ?? await page;
}

function withOutcome(ctx: SearchContext, result: SearchResult): SearchResult {
  if (ctx.warnings.length > 0) result.outcome = { resourceType: 'OperationOutcome', issue: ctx.warnings };
  return result;
}
