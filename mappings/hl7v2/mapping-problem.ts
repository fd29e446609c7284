import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Raised inside a mapping when the message cannot become valid FHIR; the public mapping functions catch it and
 * answer an OperationOutcome, so that a channel can NAK with the reason. `expression` locates the field in the
 * message (`OBX[2].5`: the second OBX, field 5; `PID[1].3[2]`: the second repetition of PID-3).
 */
export class MappingProblem extends Error {
  constructor(readonly code: OperationOutcomeIssue['code'], readonly expression: string, diagnostics: string) {
    super(diagnostics);
  }
}

export function problemOutcome(problems: ReadonlyArray<{ code?: OperationOutcomeIssue['code']; expression: string; message?: string; diagnostics?: string }>): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: problems.map((p) => ({
      severity: 'error',
      code: p.code ?? 'structure',
      diagnostics: p.diagnostics ?? p.message ?? '',
      expression: [p.expression],
    })),
  };
}

/** Runs a mapping body and turns every failure into an OperationOutcome: a mapping never throws at its channel. */
export function outcomeOnProblem<T>(run: () => T): T | OperationOutcome {
  try {
    return run();
  } catch (err) {
    if (err instanceof MappingProblem) return problemOutcome([{ code: err.code, expression: err.expression, diagnostics: err.message }]);
    // A bug here must not take the channel down or lose the message: it is stored with this reason for reprocessing.
    const reason = err instanceof Error ? err.message : String(err);
    return { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'exception', diagnostics: `The HL7 v2 mapping failed unexpectedly: ${reason}`, expression: ['MSH'] }] };
  }
}
