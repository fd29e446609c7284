import { allOk, multipleMatches, OperationOutcomeError, preconditionFailed } from '@medplum/core';
import { parseFhirSearch } from '../search/search-request';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import type { JsonPatchOperation } from '../store/repository';
import type { FhirContext, FhirRequest, FhirResponse } from './fhir-request';
import { ifNoneMatchHits, versionFromETag, versionHeadersOf } from './http-headers';
import { informational, invalidRequest } from './http-outcomes';

/** FHIR R4 id: 1..64 of [A-Za-z0-9-.]. */
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export function resourceLocation(baseUrl: string, r: Resource): string {
  return `${baseUrl}/${r.resourceType}/${r.id}/_history/${r.meta?.versionId}`;
}

function ok(resource: Resource, status = 200): FhirResponse {
  return { status, body: resource, ...versionHeadersOf(resource) };
}

function written(ctx: FhirContext, resource: Resource, created: boolean): FhirResponse {
  return {
    ...ok(resource, created ? 201 : 200),
    written: true,
    ...(created ? { location: resourceLocation(ctx.baseUrl, resource) } : {}),
    outcome: informational(created ? `Created ${resource.resourceType}/${resource.id}` : `Updated ${resource.resourceType}/${resource.id}`, created ? 'created' : 'ok'),
  };
}

/** The body of a create or update: a JSON object whose resourceType is the one in the URL. */
function resourceBody(req: FhirRequest, type: ResourceType): Resource {
  const body = req.body as Resource | undefined;
  if (req.bodyKind !== undefined && req.bodyKind !== 'fhir-json') {
    throw invalidRequest(`${req.method} ${type} takes a FHIR JSON resource`);
  }
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest(`${req.method} ${type} needs a ${type} resource as its body`, type, 'required');
  }
  if (body.resourceType !== type) {
    throw invalidRequest(
      `The body is a ${typeof body.resourceType === 'string' ? body.resourceType : 'resource without resourceType'} but the URL names ${type}`,
      'resourceType',
    );
  }
  return body;
}

export async function read(ctx: FhirContext, req: FhirRequest, type: ResourceType, id: string): Promise<FhirResponse> {
  const resource = await ctx.repo.read(type, id);
  if (ifNoneMatchHits(req.ifNoneMatch, resource.meta?.versionId)) {
    return { status: 304, ...versionHeadersOf(resource) };
  }
  return ok(resource);
}

export async function vread(ctx: FhirContext, type: ResourceType, id: string, versionId: string): Promise<FhirResponse> {
  return ok(await ctx.repo.vread(type, id, versionId));
}

export async function create(ctx: FhirContext, req: FhirRequest, type: ResourceType): Promise<FhirResponse> {
  // FHIR create: "the server SHALL ignore" a client id (use PUT to choose the id).
  const { id: _ignored, ...resource } = resourceBody(req, type);
  const result = await ctx.repo.create(resource as Resource, req.ifNoneExist ? { ifNoneExist: req.ifNoneExist } : {});
  return written(ctx, result.resource, result.created);
}

export async function update(ctx: FhirContext, req: FhirRequest, type: ResourceType, id: string): Promise<FhirResponse> {
  const resource = resourceBody(req, type);
  if (!ID_PATTERN.test(id)) throw invalidRequest(`"${id}" is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)`, 'id');
  if (resource.id !== id) {
    throw invalidRequest(resource.id === undefined ? `The body needs "id": "${id}" as in the URL` : `The body's id "${resource.id}" differs from the id "${id}" in the URL`, `${type}.id`);
  }
  const ifMatch = versionFromETag(req.ifMatch);
  const result = await ctx.repo.update(resource, ifMatch ? { ifMatch } : {});
  return written(ctx, result.resource, result.created);
}

export async function conditionalUpdate(ctx: FhirContext, req: FhirRequest, type: ResourceType): Promise<FhirResponse> {
  const resource = resourceBody(req, type);
  if (!req.rawQuery) throw invalidRequest(`PUT ${type} needs a search in the URL (conditional update) or an id (PUT ${type}/<id>)`);
  const result = await ctx.repo.conditionalUpdate(resource, req.rawQuery);
  return written(ctx, result.resource, result.created);
}

function jsonPatchBody(req: FhirRequest): JsonPatchOperation[] {
  const ops = req.body;
  if (!Array.isArray(ops) || ops.length === 0) throw invalidRequest('A JSON Patch body is a non-empty array of operations', undefined, 'required');
  ops.forEach((op, i) => {
    const valid = op && typeof op === 'object' && ['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(op.op)
      && typeof op.path === 'string' && (!['move', 'copy'].includes(op.op) || typeof op.from === 'string')
      && (!['add', 'replace', 'test'].includes(op.op) || 'value' in op);
    if (!valid) throw invalidRequest(`Patch operation ${i} is not a valid RFC 6902 operation`, `[${i}]`);
  });
  return ops as JsonPatchOperation[];
}

export async function patch(ctx: FhirContext, req: FhirRequest, type: ResourceType, id: string): Promise<FhirResponse> {
  const ifMatch = versionFromETag(req.ifMatch);
  const resource = await ctx.repo.patch(type, id, jsonPatchBody(req), ifMatch ? { ifMatch } : {});
  return written(ctx, resource, false);
}

export async function remove(ctx: FhirContext, req: FhirRequest, type: ResourceType, id: string): Promise<FhirResponse> {
  const ifMatch = versionFromETag(req.ifMatch);
  if (ifMatch) {
    // The Repository's delete has no version check; read and delete in one transaction keep If-Match honest.
    await ctx.repo.transaction(async (trx) => {
      const current = await trx.read(type, id);
      if (current.meta?.versionId !== ifMatch) throw new OperationOutcomeError(preconditionFailed);
      await trx.delete(type, id);
    });
  } else {
    await ctx.repo.delete(type, id);
  }
  return { status: 200, body: informational(`Deleted ${type}/${id}`, 'ok'), written: true, outcome: allOk };
}

/** DELETE /Type?search: none → nothing to do, one → delete it, several → 412 (FHIR "single" conditional delete). */
export async function conditionalDelete(ctx: FhirContext, req: FhirRequest, type: ResourceType): Promise<FhirResponse> {
  if (!req.rawQuery) throw invalidRequest(`DELETE ${type} needs a search in the URL (conditional delete) or an id`);
  const request = parseFhirSearch(type, { ...req.query, _count: '2' });
  const deleted = await ctx.repo.transaction(async (trx) => {
    const found = await trx.search({ ...request, sortRules: undefined, include: undefined, revInclude: undefined }, { strict: true });
    if (found.resources.length > 1) throw new OperationOutcomeError(multipleMatches);
    const target = found.resources[0];
    if (target?.id) await trx.delete(type, target.id);
    return target;
  });
  const text = deleted ? `Deleted ${type}/${deleted.id}` : `No ${type} matched; nothing deleted`;
  return { status: 200, body: informational(text, 'ok'), written: true, outcome: allOk };
}
