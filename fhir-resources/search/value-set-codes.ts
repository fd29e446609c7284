import type { Filter } from '@medplum/core';
import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude, ValueSetExpansionContains } from '@medplum/fhirtypes';
import type { ContentCodec } from '../store/content-codec';
import { expandValueSet, type Expansion } from '../validation/value-set-expansion';
import { invalidSearchValue, SearchContext } from './search-context';
import { INDEX_TABLES } from './search-migrations';

/**
 * The codes of the value sets named by `code:in=` / `code:not-in=` (R4 search §3.1.1.5.4), read before the search's
 * SQL is built (which is synchronous). A value set is looked up by canonical url in the store first, then among the
 * R4 and China value sets shipped with the server (validation/value-set-expansion). It is expanded here from its
 * `expansion`, or from `compose` when every include lists its concepts, names a complete CodeSystem (stored or
 * shipped) or includes another such value set; anything else (filters, incomplete systems) is a 400 saying so,
 * never a silently partial match.
 */
type Codes = Map<string, Set<string>>;

const MAX_DEPTH = 8;

export async function resolveValueSets(ctx: SearchContext, filters: readonly Filter[], codec: ContentCodec): Promise<void> {
  for (const f of filters) {
    if ((f.operator !== 'in' && f.operator !== 'not-in') || f.code.includes('.') || f.code.startsWith('_has')) continue;
    const url = f.value.split('|')[0];
    if (ctx.valueSets.has(url)) continue;
    const codes = await expand(ctx, codec, url, 0);
    if (!codes) throw invalidSearchValue(f.code, `The value set ${url} is neither in this server nor one it can expand (compose with filters, or an incomplete code system)`);
    ctx.valueSets.set(url, codes);
  }
}

async function expand(ctx: SearchContext, codec: ContentCodec, url: string, depth: number): Promise<Codes | undefined> {
  const stored = await latest<ValueSet>(ctx, codec, 'ValueSet', url);
  if (!stored) return copy(expandValueSet(url));
  if (stored.expansion?.contains?.length) return fromContains(stored.expansion.contains, new Map());
  if (!stored.compose?.include?.length || depth > MAX_DEPTH) return undefined;
  const codes: Codes = new Map();
  for (const include of stored.compose.include) {
    const part = await expandInclude(ctx, codec, include, depth);
    if (!part) return undefined;
    merge(codes, part);
  }
  for (const exclude of stored.compose.exclude ?? []) {
    const part = await expandInclude(ctx, codec, exclude, depth);
    if (!part) return undefined;
    for (const [system, set] of part) for (const code of set) codes.get(system)?.delete(code);
  }
  return codes;
}

async function expandInclude(ctx: SearchContext, codec: ContentCodec, include: ValueSetComposeInclude, depth: number): Promise<Codes | undefined> {
  if (include.filter?.length || (include.system && include.valueSet?.length)) return undefined;
  if (include.valueSet?.length) {
    const union: Codes = new Map();
    for (const vs of include.valueSet) {
      const part = await expand(ctx, codec, vs.split('|')[0], depth + 1);
      if (!part) return undefined;
      merge(union, part);
    }
    return union;
  }
  const system = include.system;
  if (!system) return undefined;
  if (include.concept?.length) return new Map([[system, new Set(include.concept.map((c) => c.code))]]);
  const codeSystem = await latest<CodeSystem>(ctx, codec, 'CodeSystem', system);
  // A code system only shipped with the server is reached through a shipped value set's url, not from here.
  return codeSystem?.content === 'complete' ? new Map([[system, new Set(allCodes(codeSystem.concept ?? []))]]) : undefined;
}

/** The live resource of `type` with this canonical url that was written last, as the caller may see it. */
async function latest<T>(ctx: SearchContext, codec: ContentCodec, type: string, url: string): Promise<T | undefined> {
  const query = ctx.db('fhir_resources as vs').select('vs.content').where('vs.resource_type', type).where('vs.deleted', false)
    .whereIn('vs.id', ctx.db(`${INDEX_TABLES.uri} as vu`).select('vu.resource_id').where('vu.resource_type', type).where('vu.param', 'url').where('vu.value', url))
    .orderBy('vs.last_updated', 'desc').limit(1);
  ctx.restrict(query, type, 'vs');
  const [row] = await query;
  return row ? (codec.decode(String(row.content)) as T) : undefined;
}

function fromContains(contains: readonly ValueSetExpansionContains[], into: Codes): Codes {
  for (const c of contains) {
    if (c.system && c.code && !c.abstract && !c.inactive) add(into, c.system, c.code);
    if (c.contains?.length) fromContains(c.contains, into);
  }
  return into;
}

function allCodes(concepts: readonly CodeSystemConcept[]): string[] {
  return concepts.flatMap((c) => [c.code, ...allCodes(c.concept ?? [])]);
}

function add(codes: Codes, system: string, code: string): void {
  const set = codes.get(system) ?? new Set<string>();
  set.add(code);
  codes.set(system, set);
}

function merge(into: Codes, part: Codes): void {
  for (const [system, set] of part) for (const code of set) add(into, system, code);
}

function copy(expansion: Expansion | undefined): Codes | undefined {
  return expansion ? new Map([...expansion].map(([s, set]) => [s, new Set(set)])) : undefined;
}
