import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * The problems one mapping run finds. A mapping keeps going after the first one so the sender's AE lists every
 * problem of the message at once; `expression` holds the XPath-like location in the v3 message
 * (`/PRPA_IN201311UV02/controlActProcess/…/birthTime/@value`), which is what a HIS engineer can look up.
 */
export class MappingProblems {
  private readonly issues: OperationOutcomeIssue[] = [];

  add(code: OperationOutcomeIssue['code'], diagnostics: string, location: string): void {
    this.issues.push({ severity: 'error', code, diagnostics, expression: [location] });
  }

  get any(): boolean {
    return this.issues.length > 0;
  }

  outcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: [...this.issues] };
  }
}

export function singleProblem(code: OperationOutcomeIssue['code'], diagnostics: string, location: string): OperationOutcome {
  const problems = new MappingProblems();
  problems.add(code, diagnostics, location);
  return problems.outcome();
}

export function isOperationOutcome(value: unknown): value is OperationOutcome {
  return typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === 'OperationOutcome';
}
