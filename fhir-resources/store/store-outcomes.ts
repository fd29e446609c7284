import { OperationOutcomeError, badRequest, conflict, gone, multipleMatches, notFound, preconditionFailed } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';

/*
 * The store's failures as OperationOutcomeError. The outcome keeps @medplum/core's `id` (getStatus() maps it to the
 * HTTP status) and adds plain-words diagnostics and, where a field is at fault, its FHIRPath.
 */
function explain(outcome: OperationOutcome, diagnostics: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError({
    ...outcome,
    issue: (outcome.issue ?? []).map((i) => ({ ...i, diagnostics, ...(expression ? { expression: [expression] } : {}) })),
  });
}

export const resourceNotFound = (ref: string): OperationOutcomeError =>
  explain(notFound, `${ref} does not exist on this server.`);

export const resourceGone = (ref: string): OperationOutcomeError =>
  explain(gone, `${ref} was deleted; its earlier versions are still available through history.`);

export const versionMismatch = (ref: string, expected: string, actual: string | undefined): OperationOutcomeError =>
  explain(preconditionFailed,
    actual === undefined
      ? `${ref} does not exist, so it cannot be at version ${expected} (If-Match). Read it again before updating.`
      : `${ref} is at version ${actual}, not ${expected} (If-Match): someone else changed it. Read it again and reapply your change.`,
    'Resource.meta.versionId');

export const tooManyMatches = (search: string): OperationOutcomeError =>
  explain(multipleMatches, `The condition "${search}" matches more than one resource; make it specific enough to match one.`);

export const concurrentWrite = (ref: string): OperationOutcomeError =>
  explain(conflict(`${ref} was written by another request at the same time.`), `${ref} was written by another request at the same time; retry.`);

export const invalidRequest = (diagnostics: string, expression?: string): OperationOutcomeError =>
  explain(badRequest(diagnostics, expression), diagnostics, expression);
