import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { validateResourceForWrite } from '../validation/validate-resource';
import { code, operation, optional, resource, uri } from './operation';

/**
 * `$validate` (http://hl7.org/fhir/R4/resource-operation-validate.html) at type level: checks a resource exactly
 * as a create or update would, and writes nothing. The answer is 200 with an OperationOutcome whatever the
 * verdict (the spec's "the outcome says whether the resource is valid"); 400 is kept for a request that cannot be
 * validated at all.
 */
export const validateOperation = operation({
  name: 'validate',
  level: 'type',
  affectsState: false,
  url: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
  description: 'Validate a resource against the R4 structure and this server\'s rules without storing it',
  parameters: {
    resource: resource(undefined, { documentation: 'The resource to check' }),
    mode: optional(code({ documentation: 'create | update (delete is not checked here)' })),
    profile: optional(uri({ documentation: 'Not supported: resources are checked against the base R4 structure and the China profiles' })),
  },
  output: {
    return: resource<OperationOutcome>('OperationOutcome'),
  },
  async run(_repo, { resource: candidate, mode, profile }, context) {
    if (mode !== undefined && mode !== 'create' && mode !== 'update') {
      throw badParameter('mode', `Mode "${mode}" is not supported; use create or update`);
    }
    if (profile !== undefined) throw badParameter('profile', 'Validation against a named profile is not supported');
    if (context.resourceType && candidate.resourceType !== context.resourceType) {
      throw badParameter('resource', `$validate on ${context.resourceType} got a ${candidate.resourceType}`);
    }
    if (mode === 'update' && !candidate.id) throw badParameter('resource', 'An update needs the resource id', 'Resource.id');
    return { return: outcomeOf(candidate) };
  },
});

function outcomeOf(candidate: Resource): OperationOutcome {
  try {
    validateResourceForWrite(candidate);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome;
    throw err;
  }
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: `The ${candidate.resourceType} is valid`, details: { text: 'All OK' } }],
  };
}

function badParameter(name: string, diagnostics: string, expression = `Parameters.parameter[${name}]`): OperationOutcomeError {
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'invalid', diagnostics, details: { text: diagnostics }, expression: [expression] }],
  });
}
