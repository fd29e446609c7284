import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Refusals of the refund operations, worded for the patient or operator who reads them (zh-CN). The outcome id gives
 * the HTTP status (@medplum/core getStatus): forbidden 403, conflict 409, not-found 404; none 400.
 */
export function refundOutcome(id: string | undefined, severity: OperationOutcomeIssue['severity'], code: OperationOutcomeIssue['code'], text: string, expression?: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    ...(id ? { id } : {}),
    issue: [{ severity, code, diagnostics: text, details: { text }, ...(expression ? { expression: [expression] } : {}) }],
  };
}

/** 403: another patient's bill, or a role that may not do this. */
export const notYours = (text: string, expression?: string) => new OperationOutcomeError(refundOutcome('forbidden', 'error', 'forbidden', text, expression));
/** 409: the state of the bill, an item or the Task forbids it now. */
export const stateConflict = (text: string, expression?: string) => new OperationOutcomeError(refundOutcome('conflict', 'error', 'conflict', text, expression));
/** 400: the request itself is wrong. */
export const badInput = (text: string, expression?: string) => new OperationOutcomeError(refundOutcome(undefined, 'error', 'invalid', text, expression));
/** 404. */
export const notFoundHere = (text: string, expression?: string) => new OperationOutcomeError(refundOutcome('not-found', 'error', 'not-found', text, expression));

/** What an approval or rejection did to one Task, for the batch answer. */
export const done = (text: string) => refundOutcome('ok', 'information', 'informational', text);
