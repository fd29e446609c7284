import type { OperationOutcome } from '@medplum/fhirtypes';

/** A mapping's OperationOutcome as the one line a message's error and an AE carry: each problem and where it is. */
export function outcomeText(outcome: OperationOutcome): string {
  return (outcome.issue ?? []).map((i) => `${i.diagnostics ?? i.code}${i.expression?.length ? ` (${i.expression.join(', ')})` : ''}`).join('; ');
}
