import { formatSearchQuery, OperationOutcomeError, parseSearchRequest, type SearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, BundleLink, ResourceType } from '@medplum/fhirtypes';
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
  try {
    return parseSearchRequest(type, query);
  } catch (err) {
    if (err instanceof OperationOutcomeError) throw err;
    throw invalidRequest(`The search cannot be read: ${(err as Error).message}`);
  }
}

export async function search(ctx: FhirContext, req: FhirRequest, type: ResourceType): Promise<FhirResponse> {
  const request = parseRequest(type, searchQueryOf(req));
  const result = await ctx.repo.search(request, { strict: req.prefer.handling === 'strict' });
  const typeUrl = `${ctx.baseUrl}/${type}`;
  const link: BundleLink[] = [{ relation: 'self', url: `${typeUrl}${formatSearchQuery(request)}` }];
  if (result.next) {
    link.push({ relation: 'next', url: `${typeUrl}${formatSearchQuery({ ...request, cursor: result.next, offset: undefined })}` });
  }
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
