import { isResourceType } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';
import { invokeOperation } from '../operations/operation-invoker';
import { OperationRegistry } from '../operations/operation-registry';
import type { OperationLevel } from '../operations/operation';
import { processBundle } from './bundle-interaction';
import type { FhirContext, FhirRequest, FhirResponse } from './fhir-request';
import { compartmentParams } from '../auth/patient-compartment';
import { invalidRequest, methodNotAllowed, unknownPath, unknownResourceType } from './http-outcomes';
import { history } from './history-interaction';
import * as resources from './resource-interactions';
import { search } from './search-interaction';

/*
 * The FHIR RESTful API's URL grammar (http://hl7.org/fhir/R4/http.html#summary), in one place. The express router
 * and every batch/transaction entry come through here, so an entry behaves exactly as the same HTTP call would.
 */

export type CapabilitySource = (ctx: FhirContext) => FhirResponse;

async function operationCall(
  ctx: FhirContext, req: FhirRequest, segment: string, level: OperationLevel, type?: ResourceType, id?: string,
): Promise<FhirResponse> {
  const name = segment.slice(1);
  const op = ctx.operations.get(name);
  if (!op || !OperationRegistry.applies(op, level, type)) {
    throw unknownPath(`${[type, id].filter(Boolean).join('/')}${type ? '/' : ''}$${name} (no such ${level}-level operation)`);
  }
  if (req.method !== 'GET' && req.method !== 'POST') throw methodNotAllowed(req.method, segment);
  const method = req.method;
  const run = () => invokeOperation(ctx.repo, op, {
    method, level, resourceType: type, id, body: req.body, query: req.query,
    correlationId: ctx.correlationId, baseUrl: ctx.baseUrl,
  });
  const body = ctx.operationGate ? await ctx.operationGate(ctx.repo, op, level, type, id, run) : await run();
  return { status: 200, body };
}

/** `Patient/x/Observation`: a search in one patient's compartment; the Patient compartment is the one this server has. */
function compartmentSearch(ctx: FhirContext, req: FhirRequest, compartment: ResourceType, id: string, type: string): Promise<FhirResponse> {
  if (compartment !== 'Patient') throw invalidRequest(`Compartment searches are supported in the Patient compartment only, not ${compartment}/${id}/${type}`);
  if (type === '*') throw invalidRequest(`A search of every type in a compartment (Patient/${id}/*) is not supported: search one type, e.g. Patient/${id}/Observation`);
  if (!isResourceType(type)) throw unknownResourceType(type);
  if (!compartmentParams(type)) throw invalidRequest(`${type} is not in the Patient compartment (http://hl7.org/fhir/R4/compartmentdefinition-patient.html)`);
  return search(ctx, req, type as ResourceType, `Patient/${id}`);
}

export async function executeFhirRequest(ctx: FhirContext, req: FhirRequest, capability: CapabilitySource): Promise<FhirResponse> {
  const seg = req.path.split('/').filter(Boolean);
  const { method } = req;
  const notAllowed = () => methodNotAllowed(method, `/${req.path}`);

  if (seg.length === 0) {
    if (method === 'POST') return processBundle(ctx, req, (c, r) => executeFhirRequest(c, r, capability));
    throw notAllowed();
  }
  const [first, second, third, fourth] = seg;
  if (seg.length === 1 && first === 'metadata') {
    if (method !== 'GET') throw notAllowed();
    return capability(ctx);
  }
  if (seg.length === 1 && first === '_history') {
    if (method !== 'GET') throw notAllowed();
    return history(ctx, req);
  }
  if (seg.length === 1 && first.startsWith('$')) return operationCall(ctx, req, first, 'system');
  if (!isResourceType(first)) throw unknownResourceType(first);
  const type = first as ResourceType;

  if (seg.length === 1) {
    switch (method) {
      case 'GET': return search(ctx, req, type);
      case 'POST': return resources.create(ctx, req, type);
      case 'PUT': return resources.conditionalUpdate(ctx, req, type);
      case 'DELETE': return resources.conditionalDelete(ctx, req, type);
      default: throw notAllowed();
    }
  }
  if (seg.length === 2) {
    if (second === '_search') {
      if (method !== 'POST' && method !== 'GET') throw notAllowed();
      return search(ctx, req, type);
    }
    if (second === '_history') {
      if (method !== 'GET') throw notAllowed();
      return history(ctx, req, type);
    }
    if (second.startsWith('$')) return operationCall(ctx, req, second, 'type', type);
    const id = second;
    switch (method) {
      case 'GET': {
        // Operations are served from their declarations, not from the store.
        const op = type === 'OperationDefinition' ? ctx.operations.get(id) : undefined;
        if (op) return { status: 200, body: op.definition(ctx.baseUrl) };
        return resources.read(ctx, req, type, id);
      }
      case 'PUT': return resources.update(ctx, req, type, id);
      case 'PATCH': return resources.patch(ctx, req, type, id);
      case 'DELETE': return resources.remove(ctx, req, type, id);
      default: throw notAllowed();
    }
  }
  if (seg.length === 3 && third === '_history') {
    if (method !== 'GET') throw notAllowed();
    return history(ctx, req, type, second);
  }
  if (seg.length === 3 && third.startsWith('$')) return operationCall(ctx, req, third, 'instance', type, second);
  if ((seg.length === 3 || (seg.length === 4 && fourth === '_search')) && third !== '_history') {
    if (method !== 'GET' && !(method === 'POST' && seg.length === 4)) throw notAllowed();
    return compartmentSearch(ctx, req, type, second, third);
  }
  if (seg.length === 4 && third === '_history') {
    if (method !== 'GET') throw notAllowed();
    return resources.vread(ctx, type, second, fourth);
  }
  throw unknownPath(`/${req.path}`);
}
