import { OperationOutcomeError, Operator, type SearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, BundleLink, ResourceType } from '@medplum/fhirtypes';
import { parseFhirSearch } from '../search/search-request';
import type { FhirContext, FhirRequest, FhirResponse } from './fhir-request';
import { invalidRequest } from './http-outcomes';

type Query = Record<string, string | string[] | undefined>;

/** GET /Type?… and POST /Type/_search (form fields and URL query together, as FHIR allows). */
export function searchQueryOf(req: FhirRequest): Query {
  if (req.method !== 'POST') return req.query;
  if (req.body !== undefined && !(req.body instanceof URLSearchParams)) {
    throw invalidRequest('POST _search takes application/x-www-form-urlencoded parameters');
  }
  const merged: Record<string, string[]> = {};
  const add = (k: string, v: string | string[] | undefined) => { if (v !== undefined) merged[k] = [...(merged[k] ?? []), ...([] as string[]).concat(v)]; };
  for (const [k, v] of Object.entries(req.query)) add(k, v);
  if (req.body instanceof URLSearchParams) for (const [k, v] of req.body) add(k, v);
  return merged;
}

function parseRequest(type: ResourceType, query: Query): SearchRequest {
  let request: SearchRequest;
  try {
    request = parseFhirSearch(type, query);
  } catch (err) {
    if (err instanceof OperationOutcomeError) throw err;
    throw invalidRequest(`The search cannot be read: ${(err as Error).message}`);
  }
  // parseSearchRequest turns `_count=abc` into NaN rather than refusing it.
  if (request.count !== undefined && !(Number.isInteger(request.count) && request.count >= 0)) {
    throw invalidRequest(`_count must be a whole number (got "${([] as string[]).concat(query._count ?? '').join(',')}")`, '_count');
  }
  return request;
}

/**
 * The query of a self or next link: the client's own parameters (so `_elements`, `_summary`, modifiers survive as
 * written), with `_cursor` set for the next page. Paging is by cursor only, so an `_offset` is not carried over.
 */
function linkQuery(query: Query, cursor?: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (k === '_cursor' || (cursor && k === '_offset')) continue;
    for (const value of ([] as string[]).concat(v ?? [])) params.append(k, value);
  }
  if (cursor) params.set('_cursor', cursor);
  else if (query._cursor) params.set('_cursor', ([] as string[]).concat(query._cursor).at(-1)!);
  const s = params.toString();
  return s ? `?${s}` : '';
}

/**
 * GET /Type?… and, with `compartment`, GET /Patient/x/Type?… (R4 §3.2.2): the same search narrowed to the rows in
 * the patient's compartment, answered with links under the compartment's URL.
 */
export async function search(ctx: FhirContext, req: FhirRequest, type: ResourceType, compartment?: string): Promise<FhirResponse> {
  const query = searchQueryOf(req);
  const request = parseRequest(type, query);
  if (compartment) request.filters = [{ code: '_compartment', operator: Operator.EQUALS, value: compartment }, ...(request.filters ?? [])];
  const result = await ctx.repo.search(request, { strict: req.prefer.handling === 'strict' });
  const typeUrl = `${ctx.baseUrl}/${compartment ? `${compartment}/` : ''}${type}`;
  const link: BundleLink[] = [{ relation: 'self', url: `${typeUrl}${linkQuery(query)}` }];
  if (result.next) link.push({ relation: 'next', url: `${typeUrl}${linkQuery(query, result.next)}` });
  const entry: BundleEntry[] = [
    ...result.resources.map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'match' as const } })),
    ...result.included.map((r) => ({ fullUrl: `${ctx.baseUrl}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'include' as const } })),
  ];
  if (result.outcome) entry.push({ resource: result.outcome, search: { mode: 'outcome' } });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link,
    entry,
  };
  return { status: 200, body: bundle };
}
