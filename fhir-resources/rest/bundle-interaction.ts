import { STATUS_CODES } from 'node:http';
import { OperationOutcomeError } from '@medplum/core';
import type { Binary, Bundle, BundleEntry, BundleEntryResponse, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FhirContext, FhirRequest, FhirResponse } from './fhir-request';
import { invalidRequest, statusOf } from './http-outcomes';
import { errorOutcome } from './error-outcome';
import { UrnReferences } from './urn-references';
import { cooperate } from '../../engine/runtime/cooperative-yield';

/*
 * batch and transaction Bundles (http://hl7.org/fhir/R4/http.html#transaction). Each entry becomes a FhirRequest
 * and goes through the same dispatch as a plain HTTP call. A transaction runs every entry inside one
 * repository.transaction, in the order the spec prescribes, with `urn:uuid:` fullUrls replaced by the ids the
 * server assigned; the first failure rolls everything back and is the answer. A batch runs each entry on its own.
 */

type Execute = (ctx: FhirContext, req: FhirRequest) => Promise<FhirResponse>;
type Method = FhirRequest['method'];

const METHODS: Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** R4 §3.1.0.11.2: DELETE, then POST, then PUT/PATCH, then GET/HEAD. */
const PHASE: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 };

interface Prepared {
  index: number;
  entry: BundleEntry;
  method: Method;
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

/** Entry index → `Bundle.entry[i]`; a resource's own paths move under it (`Patient.gender` → `Bundle.entry[2].resource.gender`). */
function locateOutcome(outcome: OperationOutcome, index: number, resourceType: string | undefined): OperationOutcome {
  const where = `Bundle.entry[${index}]`;
  return {
    ...outcome,
    issue: (outcome.issue ?? []).map((issue) => {
      const moved = (issue.expression ?? []).map((e) =>
        resourceType && (e === resourceType || e.startsWith(`${resourceType}.`)) ? `${where}.resource${e.slice(resourceType.length)}` : e);
      return { ...issue, expression: moved.some((e) => e.startsWith(where)) ? moved : [where, ...moved] };
    }),
  };
}

function prepareEntry(entry: BundleEntry, index: number): Prepared {
  const method = entry?.request?.method as Method | undefined;
  if (!entry?.request || !method || !METHODS.includes(method) || typeof entry.request.url !== 'string' || !entry.request.url) {
    throw invalidRequest(`Entry ${index} needs request.method (${METHODS.join(', ')}) and request.url`, `Bundle.entry[${index}].request`);
  }
  return { index, entry, method };
}

function entriesOf(bundle: Bundle): BundleEntry[] {
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw invalidRequest('Bundle.entry must be a list', 'Bundle.entry');
  return bundle.entry ?? [];
}

function patchBody(entry: BundleEntry, index: number): { body: unknown; bodyKind: FhirRequest['bodyKind'] } {
  const binary = entry.resource as Binary | undefined;
  // In a Bundle a JSON Patch travels as a Binary (R4 §3.1.0.11.4).
  if (binary?.resourceType !== 'Binary' || binary.contentType !== 'application/json-patch+json' || !binary.data) {
    throw invalidRequest('A PATCH entry carries its JSON Patch as a Binary with contentType application/json-patch+json', `Bundle.entry[${index}].resource`);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(binary.data, 'base64').toString('utf8'));
  } catch {
    throw invalidRequest('The Binary data of a PATCH entry is not base64 JSON', `Bundle.entry[${index}].resource.data`);
  }
  return { body, bodyKind: 'json-patch' };
}

function toRequest(ctx: FhirContext, outer: FhirRequest, p: Prepared, refs: UrnReferences | undefined): FhirRequest {
  const r = p.entry.request!;
  let url = refs ? refs.rewriteText(r.url) : r.url;
  if (url.startsWith(ctx.baseUrl)) url = url.slice(ctx.baseUrl.length);
  const [path, rawQuery = ''] = url.replace(/^\//, '').split('?');
  if (p.method === 'POST' && path === '') throw invalidRequest('A Bundle cannot contain another batch or transaction', `Bundle.entry[${p.index}].request.url`);
  const query: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) query[k] = [...(query[k] ?? []), v];
  const resource = p.entry.resource && refs ? refs.rewriteResource(p.entry.resource) : p.entry.resource;
  const body = p.method === 'PATCH' ? patchBody(p.entry, p.index) : { body: resource, bodyKind: resource ? 'fhir-json' as const : undefined };
  const ifNoneExist = r.ifNoneExist && refs ? refs.rewriteText(r.ifNoneExist) : r.ifNoneExist;
  return {
    method: p.method, path, rawQuery, query, ...body,
    ifMatch: r.ifMatch, ifNoneMatch: r.ifNoneMatch, ifNoneExist,
    // Prefer on the Bundle request applies to each entry; handling too (a strict search stays strict).
    prefer: outer.prefer,
  };
}

function responseEntry(ctx: FhirContext, outer: FhirRequest, res: FhirResponse): BundleEntry {
  const response: BundleEntryResponse = {
    status: statusLine(res.status),
    ...(res.location ? { location: res.location } : {}),
    ...(res.etag ? { etag: res.etag } : {}),
    ...(res.body?.meta?.lastUpdated && res.etag ? { lastModified: res.body.meta.lastUpdated } : {}),
  };
  const body = res.body;
  if (body?.resourceType === 'OperationOutcome' && res.written) return { response: { ...response, outcome: body } };
  const preferred = res.written ? outer.prefer.return ?? 'representation' : 'representation';
  if (preferred === 'OperationOutcome' && res.outcome) return { response: { ...response, outcome: res.outcome } };
  if (preferred === 'minimal' || !body) return { response };
  return { ...(body.id ? { fullUrl: `${ctx.baseUrl}/${body.resourceType}/${body.id}` } : {}), resource: body, response };
}

async function runTransaction(ctx: FhirContext, outer: FhirRequest, prepared: Prepared[], execute: Execute): Promise<FhirResponse> {
  const refs = new UrnReferences(prepared.map((p) => p.entry));
  const ordered = refs.order([...prepared].sort((a, b) => PHASE[a.method] - PHASE[b.method] || a.index - b.index), (p) => p.entry, (p) => p.method === 'POST');
  const results = new Map<number, FhirResponse>();
  await ctx.repo.transaction(async (trx) => {
    const inner: FhirContext = { ...ctx, repo: trx };
    await trx.prepareConditions?.(conditionsOf(ordered));
    for (const p of ordered) {
      const res = await run(inner, outer, p, refs, execute);
      results.set(p.index, res);
      // A conditional update's fullUrl names whatever it matched or created: entries after it may point at it.
      if ((p.method === 'POST' || p.method === 'PUT') && res.body?.id) refs.resolve(p.entry, `${res.body.resourceType}/${res.body.id}`);
    }
    // References that pointed forward around a cycle (A → B → A) could only be filled in after both existed.
    for (const p of ordered) {
      const created = results.get(p.index)?.body;
      if (p.method !== 'POST' || !created || !refs.hasUnresolved(created)) continue;
      const fixed = await run(inner, outer, { ...p, method: 'PUT', entry: { resource: refs.rewriteResource(created), request: { method: 'PUT', url: `${created.resourceType}/${created.id}` } } }, refs, execute);
      results.set(p.index, { ...fixed, status: 201, location: results.get(p.index)?.location });
    }
  });
  const entry = prepared.map((p) => responseEntry(ctx, outer, results.get(p.index)!));
  return { status: 200, body: { resourceType: 'Bundle', type: 'transaction-response', entry } };
}

/**
 * The conditions (`Type?search`) of a transaction Bundle's conditional creates and updates, for a caller that writes
 * several Bundles in one database transaction to lock and read ahead all of theirs at once (bundle-group-commit.ts).
 */
export function transactionConditions(bundle: Bundle): string[] {
  return conditionsOf((bundle.entry ?? []).flatMap((entry, index) => (entry.request?.method ? [{ index, entry, method: entry.request.method as Method }] : [])));
}

/**
 * The conditions (`Type?search`) of the transaction's conditional creates and updates, as the store will lock them
 * and read their matches ahead.
 * Those that name another entry of the Bundle (its `urn:` fullUrl) are known only once that entry ran; they are left
 * to lock themselves. An identifier's `urn:oid:` system is not such a name. A condition spelled differently here than
 * in the store costs one needless lock and search, nothing else.
 */
function conditionsOf(ordered: Prepared[]): string[] {
  const out: string[] = [];
  const entryUrns = ordered.map((p) => p.entry.fullUrl).filter((u): u is string => Boolean(u?.startsWith('urn:')));
  for (const p of ordered) {
    const r = p.entry.request!;
    const type = p.entry.resource?.resourceType;
    let search: string | undefined;
    if (p.method === 'POST' && r.ifNoneExist) search = r.ifNoneExist;
    else if (p.method === 'PUT' && r.url.includes('?')) search = r.url.split('?')[1];
    if (!type || !search || entryUrns.some((u) => search.includes(u))) continue;
    out.push(`${type}?${search.startsWith('?') ? search.slice(1) : search}`);
  }
  return out;
}

async function run(ctx: FhirContext, outer: FhirRequest, p: Prepared, refs: UrnReferences | undefined, execute: Execute): Promise<FhirResponse> {
  // An entry's validation and index rows are CPU work: a Bundle of many (or many Bundles in one group commit) must
  // not hold the event loop from the senders waiting for their acknowledgements.
  await cooperate();
  try {
    return await execute(ctx, toRequest(ctx, outer, p, refs));
  } catch (err) {
    const outcome = errorOutcome(err);
    throw new OperationOutcomeError(locateOutcome(outcome, p.index, p.entry.resource?.resourceType), err);
  }
}

async function runBatch(ctx: FhirContext, outer: FhirRequest, bundle: Bundle, execute: Execute): Promise<FhirResponse> {
  const entry: BundleEntry[] = [];
  for (const [index, e] of entriesOf(bundle).entries()) {
    try {
      entry.push(responseEntry(ctx, outer, await run(ctx, outer, prepareEntry(e, index), undefined, execute)));
    } catch (err) {
      const outcome = locateOutcome(errorOutcome(err), index, e?.resource?.resourceType);
      entry.push({ response: { status: statusLine(statusOf(outcome)), outcome } });
    }
  }
  return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry } };
}

export async function processBundle(ctx: FhirContext, req: FhirRequest, execute: Execute): Promise<FhirResponse> {
  const bundle = req.body as Resource | undefined;
  if (req.bodyKind !== 'fhir-json' || !bundle || typeof bundle !== 'object' || Array.isArray(bundle) || bundle.resourceType !== 'Bundle') {
    throw invalidRequest('POST to the FHIR base takes a Bundle of type batch or transaction', 'Bundle');
  }
  if (bundle.type === 'batch') return runBatch(ctx, req, bundle, execute);
  if (bundle.type === 'transaction') return runTransaction(ctx, req, entriesOf(bundle).map(prepareEntry), execute);
  throw invalidRequest(`Bundle.type must be batch or transaction, not ${bundle.type ?? '(missing)'}`, 'Bundle.type');
}
