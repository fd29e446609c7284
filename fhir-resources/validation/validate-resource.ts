import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../definitions';

/**
 * Checks a resource against the R4 structure before it is written. Throws `OperationOutcomeError` whose issues carry
 * the FHIRPath of each problem in `expression`.
 */
export function validateResourceForWrite(resource: Resource): void {
  loadR4Definitions();
  const issues = validateResource(resource);
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length > 0) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: errors });
}
