import type { OperationOutcome } from '@medplum/fhirtypes';

/** The problems found in a platform JSON message, each with the JSON path it is at (`slots[3].date`). */
export function zodOutcome(issues: readonly { path: readonly PropertyKey[]; message: string }[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.map((i) => ({
      severity: 'error' as const,
      code: 'invalid' as const,
      diagnostics: i.message,
      expression: [i.path.reduce<string>((at, p) => (typeof p === 'number' ? `${at}[${p}]` : `${at}${at ? '.' : ''}${String(p)}`), '') || '$'],
    })),
  };
}
