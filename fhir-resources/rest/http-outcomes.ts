import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/*
 * HTTP statuses that @medplum/core's getStatus() has no outcome for. The outcome carries the id, so the status
 * still follows from the OperationOutcome alone (a batch entry's response.status is computed the same way).
 */
const EXTRA_STATUS: Record<string, number> = {
  'method-not-allowed': 405,
  'not-acceptable': 406,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  // fhir-resources/auth: production without an identity provider serves no patient data.
  'service-unavailable': 503,
  // fhir-resources/operations/workflow-outcomes.ts: understood, but against a business rule (a refund larger than what is left).
  'business-rule': 422,
};

export function statusOf(outcome: OperationOutcome): number {
  return (outcome.id && EXTRA_STATUS[outcome.id]) || getStatus(outcome);
}

function outcomeWith(id: string | undefined, issue: OperationOutcomeIssue): OperationOutcome {
  return { resourceType: 'OperationOutcome', ...(id ? { id } : {}), issue: [issue] };
}

export function invalidRequest(diagnostics: string, expression?: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeError {
  return new OperationOutcomeError(
    outcomeWith(undefined, { severity: 'error', code, diagnostics, details: { text: diagnostics }, ...(expression ? { expression: [expression] } : {}) }),
  );
}

export function unknownResourceType(type: string): OperationOutcomeError {
  const text = `"${type}" is not a FHIR R4 resource type served here`;
  return new OperationOutcomeError(outcomeWith('not-found', { severity: 'error', code: 'not-found', diagnostics: text, details: { text } }));
}

export function unknownPath(path: string): OperationOutcomeError {
  const text = `No FHIR interaction at "${path}"`;
  return new OperationOutcomeError(outcomeWith('not-found', { severity: 'error', code: 'not-found', diagnostics: text, details: { text } }));
}

export function methodNotAllowed(method: string, path: string): OperationOutcomeError {
  const text = `${method} is not supported on "${path}"`;
  return new OperationOutcomeError(outcomeWith('method-not-allowed', { severity: 'error', code: 'not-supported', diagnostics: text, details: { text } }));
}

export function unsupportedMediaType(contentType: string | undefined, expected: string): OperationOutcomeError {
  const text = `Content-Type "${contentType ?? '(none)'}" is not accepted here; send ${expected}`;
  return new OperationOutcomeError(outcomeWith('unsupported-media-type', { severity: 'error', code: 'not-supported', diagnostics: text, details: { text } }));
}

export function payloadTooLarge(limitBytes: number): OperationOutcome {
  const text = `The request body is larger than the ${Math.round(limitBytes / 1024 / 1024)} MB limit`;
  return outcomeWith('payload-too-large', { severity: 'error', code: 'too-costly', diagnostics: text, details: { text } });
}

export function informational(text: string, id?: string): OperationOutcome {
  return outcomeWith(id, { severity: 'information', code: 'informational', diagnostics: text, details: { text } });
}
