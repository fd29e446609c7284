import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Refusals of the workflow operations (payment, refunds, booking), worded for the patient or operator who sees them
 * (zh-CN). The outcome id gives the HTTP status (fhir-resources/rest/http-outcomes.ts): forbidden 403, conflict 409,
 * business-rule 422, service-unavailable 503, none 400.
 */
function refusal(id: string | undefined, code: OperationOutcomeIssue['code'], diagnostics: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    ...(id ? { id } : {}),
    issue: [{ severity: 'error', code, diagnostics, details: { text: diagnostics }, ...(expression ? { expression: [expression] } : {}) }],
  });
}

/** 403: the caller may not act on this (another patient's bill). */
export const notYours = (diagnostics: string, expression?: string) => refusal('forbidden', 'forbidden', diagnostics, expression);
/** 409: the state forbids it now (already paid, being paid, already redeemed). */
export const stateConflict = (diagnostics: string, expression?: string) => refusal('conflict', 'conflict', diagnostics, expression);
/** 422: understood, but against a business rule (refund larger than what is left). */
export const businessRule = (diagnostics: string, expression?: string) => refusal('business-rule', 'business-rule', diagnostics, expression);
/** 400: the request itself is wrong. */
export const badInput = (diagnostics: string, expression?: string) => refusal(undefined, 'invalid', diagnostics, expression);
/** 404. */
export const notFoundHere = (diagnostics: string, expression?: string) => refusal('not-found', 'not-found', diagnostics, expression);
/** 503: a peer (payment channel, booking platform) did not answer; nothing was changed. */
export const peerUnavailable = (diagnostics: string) => refusal('service-unavailable', 'transient', diagnostics);
