import { OperationOutcomeError } from '@medplum/core';
import type { Parameters, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository';
import { getAllowed, isElevatable, type Operation, type OperationCaller, type OperationLevel, type ParamShape } from './operation';
import { decodeParameters, encodeParameters, parametersFromQuery } from './operation-parameters';

export interface Invocation {
  method: 'GET' | 'POST';
  level: OperationLevel;
  resourceType?: ResourceType;
  id?: string;
  body?: unknown;
  query: Record<string, string | string[] | undefined>;
  correlationId?: string;
  baseUrl: string;
}

function invalid(diagnostics: string, code: 'invalid' | 'not-supported' = 'invalid', id?: string): OperationOutcomeError {
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    ...(id ? { id } : {}),
    issue: [{ severity: 'error', code, diagnostics, details: { text: diagnostics } }],
  });
}

/** The one resource-typed input, when the operation has exactly one: its resource may be posted as the body itself. */
function soleResourceInput(shape: ParamShape): string | undefined {
  const names = Object.keys(shape);
  const resourceInputs = names.filter((n) => shape[n].kind === 'resource');
  return resourceInputs.length === 1 ? resourceInputs[0] : undefined;
}

function inputParameters(op: Operation, inv: Invocation): Parameters {
  if (inv.method === 'GET') return parametersFromQuery(inv.query, op.parameters);
  const body = inv.body as Resource | undefined;
  if (body === undefined) return { resourceType: 'Parameters' };
  if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof body.resourceType !== 'string') {
    throw invalid('The body of an operation must be a Parameters resource');
  }
  if (body.resourceType === 'Parameters') return body;
  // FHIR: "if an operation has exactly one input parameter of type Resource, the resource may be posted directly".
  const sole = soleResourceInput(op.parameters);
  if (!sole) throw invalid(`The body of $${op.name} must be a Parameters resource, not ${body.resourceType}`);
  return { resourceType: 'Parameters', parameter: [{ name: sole, resource: body }] };
}

/**
 * Runs an operation: checks the method, decodes and validates the input against the declaration, runs it in one
 * transaction and encodes the output. A single `return` resource output is answered as that resource (FHIR
 * operations §"Output"); anything else as Parameters. An operation declared `transaction: 'own'` runs outside one.
 */
export async function invokeOperation(repo: Repository, op: Operation, inv: Invocation): Promise<Resource> {
  if (inv.method === 'GET' && !getAllowed(op)) {
    throw invalid(`$${op.name} must be invoked with POST${op.affectsState ? ' (it changes data)' : ' (it takes a resource or complex input)'}`, 'not-supported',
      // the REST layer answers this id with 405
      'method-not-allowed');
  }
  const params = decodeParameters(inputParameters(op, inv), op.parameters);
  const runWith = (trx: Repository) => {
    const elevated = isElevatable(trx) ? trx.elevated() : trx;
    const caller: OperationCaller = isElevatable(trx) ? trx.caller() : { role: 'system', reference: 'system' };
    return op.run(trx, params as never, { correlationId: inv.correlationId, baseUrl: inv.baseUrl, resourceType: inv.resourceType, id: inv.id, elevated, caller });
  };
  const result = op.transaction === 'own' ? await runWith(repo) : await repo.transaction(runWith);
  const outNames = Object.keys(op.output);
  const values = result as Record<string, unknown>;
  if (outNames.length === 1 && outNames[0] === 'return' && op.output.return.kind === 'resource' && op.output.return.max === 1) {
    const r = values?.return as Resource | undefined;
    if (r) return r;
  }
  return encodeParameters(values, op.output);
}
