import type { Bundle, BundleEntry, ResourceType } from '@medplum/fhirtypes';
import type { HistoryEntry, HistoryOptions } from '../store/repository';
import type { FhirContext, FhirRequest, FhirResponse } from './fhir-request';
import { etagOf } from './http-headers';
import { invalidRequest } from './http-outcomes';

const STATUS_OF_METHOD: Record<HistoryEntry['method'], string> = {
  POST: '201 Created',
  PUT: '200 OK',
  PATCH: '200 OK',
  DELETE: '204 No Content',
};

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function historyOptions(req: FhirRequest): HistoryOptions {
  const options: HistoryOptions = {};
  const since = single(req.query._since);
  if (since !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(since) || Number.isNaN(Date.parse(since))) {
      throw invalidRequest(`_since must be an instant with a time zone, e.g. 2024-05-01T08:00:00Z (got "${since}")`, '_since');
    }
    options.since = new Date(since).toISOString();
  }
  const count = single(req.query._count);
  if (count !== undefined) {
    const n = Number(count);
    if (!Number.isInteger(n) || n < 0) throw invalidRequest(`_count must be a whole number (got "${count}")`, '_count');
    options.count = n;
  }
  const cursor = single(req.query._cursor);
  if (cursor) options.cursor = cursor;
  return options;
}

/** History of one resource (`/Type/id/_history`), a type (`/Type/_history`) or the whole system (`/_history`). */
export async function history(ctx: FhirContext, req: FhirRequest, type?: ResourceType, id?: string): Promise<FhirResponse> {
  const options = historyOptions(req);
  const result = await ctx.repo.history(type, id, options);
  const path = [type, id, '_history'].filter(Boolean).join('/');
  const params = (cursor?: string) => {
    const q = new URLSearchParams();
    if (options.since) q.set('_since', options.since);
    if (options.count !== undefined) q.set('_count', String(options.count));
    if (cursor) q.set('_cursor', cursor);
    const s = q.toString();
    return s ? `?${s}` : '';
  };
  const entry: BundleEntry[] = result.entries.map((e) => ({
    fullUrl: `${ctx.baseUrl}/${e.resourceType}/${e.id}`,
    ...(e.resource ? { resource: e.resource } : {}),
    request: { method: e.method, url: e.method === 'POST' ? e.resourceType : `${e.resourceType}/${e.id}` },
    response: { status: STATUS_OF_METHOD[e.method], etag: etagOf(e.versionId), lastModified: e.lastUpdated },
  }));
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    link: [
      { relation: 'self', url: `${ctx.baseUrl}/${path}${params(options.cursor)}` },
      ...(result.next ? [{ relation: 'next', url: `${ctx.baseUrl}/${path}${params(result.next)}` }] : []),
    ],
    entry,
  };
  return { status: 200, body: bundle };
}
