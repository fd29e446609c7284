import type { IncludeTarget, SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { ContentCodec } from '../store/content-codec';
import { INDEX_TABLES } from './search-migrations';
import { SearchContext } from './search-context';
import { searchParameter } from './search-parameters';

/**
 * `_include` and `_revinclude` over the reference index: the matches' targets, and the resources pointing at the
 * matches. Targets marked `:iterate` are followed once more from what the first pass included.
 */
const CHUNK = 500;

export async function loadIncluded(ctx: SearchContext, request: SearchRequest, matches: Resource[], codec: ContentCodec): Promise<Resource[]> {
  const includes = usable(ctx, '_include', request.include);
  const revIncludes = usable(ctx, '_revinclude', request.revInclude);
  if (matches.length === 0 || (includes.length === 0 && revIncludes.length === 0)) return [];
  const seen = new Set(matches.map(key));
  const included: Resource[] = [];
  const pass = async (from: Resource[], iterateOnly: boolean): Promise<Resource[]> => {
    const found: Resource[] = [];
    const wanted = new Map<string, Set<string>>();
    const want = (type: string | null, id: string | null): void => {
      if (!type || !id || seen.has(`${type}/${id}`)) return;
      let ids = wanted.get(type);
      if (!ids) wanted.set(type, (ids = new Set()));
      ids.add(id);
    };
    for (const target of includes.filter((t) => !iterateOnly || t.modifier === 'iterate')) {
      const ids = from.filter((r) => r.resourceType === target.resourceType).map((r) => r.id as string);
      for (const chunk of chunks(ids)) {
        const q = ctx.db(INDEX_TABLES.reference).select('target_type', 'target_id')
          .where('resource_type', target.resourceType).where('param', target.searchParam).whereIn('resource_id', chunk);
        if (target.targetType) q.where('target_type', target.targetType);
        for (const row of await q) want(row.target_type, row.target_id);
      }
    }
    for (const target of revIncludes.filter((t) => !iterateOnly || t.modifier === 'iterate')) {
      const byType = new Map<string, string[]>();
      for (const r of from) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r.id as string]);
      for (const [type, ids] of byType) {
        if (target.targetType && target.targetType !== type) continue;
        for (const chunk of chunks(ids)) {
          const rows = await ctx.db(INDEX_TABLES.reference).select('resource_type', 'resource_id')
            .where('resource_type', target.resourceType).where('param', target.searchParam)
            .where('target_type', type).whereIn('target_id', chunk);
          for (const row of rows) want(row.resource_type, row.resource_id);
        }
      }
    }
    for (const [type, ids] of wanted) {
      for (const chunk of chunks([...ids])) {
        // The caller's restriction applies to included rows as to matches: an include never reaches another patient.
        const query = ctx.db('fhir_resources as i').select('i.content').where('i.resource_type', type).whereIn('i.id', chunk).where('i.deleted', false);
        ctx.restrict(query, type, 'i');
        for (const row of await query) {
          const resource = codec.decode(row.content);
          if (seen.has(key(resource))) continue;
          seen.add(key(resource));
          found.push(resource);
        }
      }
    }
    return found;
  };
  const first = await pass(matches, false);
  included.push(...first);
  if (first.length > 0 && [...includes, ...revIncludes].some((t) => t.modifier === 'iterate')) {
    included.push(...(await pass(first, true)));
  }
  return included;
}

function usable(ctx: SearchContext, name: string, targets: IncludeTarget[] | undefined): IncludeTarget[] {
  return (targets ?? []).filter((t) => {
    const param = searchParameter(t.resourceType, t.searchParam);
    if (param?.type === 'reference') return true;
    ctx.reject(name, `${name}=${t.resourceType}:${t.searchParam}: ${param ? 'not a reference parameter' : 'unknown search parameter'}`);
    return false;
  });
}

function key(r: Resource): string {
  return `${r.resourceType}/${r.id}`;
}

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}
