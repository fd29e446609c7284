import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { BODY_LIMIT_BYTES } from './request-body';
import { invalidRequest, payloadTooLarge, unsupportedMediaType } from './http-outcomes';

/**
 * Any error → the OperationOutcome a client sees. Outcomes thrown by the repository, validation or operations pass
 * through; body-parser's errors get their FHIR equivalent; anything else is a 500 whose text says nothing about
 * the code (the log has the details, under the correlation id).
 */
export function errorOutcome(err: unknown): OperationOutcome {
  if (err instanceof OperationOutcomeError) return err.outcome;
  const e = err as { type?: string; status?: number; charset?: string } | undefined;
  if (e?.type === 'entity.too.large') return payloadTooLarge(BODY_LIMIT_BYTES);
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') {
    return unsupportedMediaType(`charset ${e.charset ?? ''}`.trim(), 'UTF-8 JSON').outcome;
  }
  if (e?.type === 'request.aborted' || e?.type === 'request.size.invalid' || e?.type === 'entity.verify.failed') {
    return invalidRequest('The request body was incomplete').outcome;
  }
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'exception', diagnostics: 'Internal server error; the server log has the details under this request\'s correlation id' }],
  };
}
