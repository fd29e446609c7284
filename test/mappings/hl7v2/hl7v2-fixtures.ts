import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { decodeMessage } from '../../../adapters/mllp/hl7-charset';
import { validateResourceForWrite } from '../../../fhir-resources/validation/validate-resource';

export const FIXTURES = join(__dirname, '../../fixtures/hl7v2');

/** A sample as text, decoded the way the MLLP adapter decodes it (`auto`: MSH-18, else the bytes decide). */
export function fixture(name: string): string {
  return decodeMessage(readFileSync(join(FIXTURES, name)), 'auto').text;
}

/**
 * The expected Bundle beside a sample. `LINGSHU_UPDATE_GOLDEN=1` writes it from the current output instead: the
 * diff of the JSON file is then what a reviewer reads.
 */
export function golden(name: string, actual: Bundle | OperationOutcome): unknown {
  const path = join(FIXTURES, name);
  if (process.env.LINGSHU_UPDATE_GOLDEN === '1') writeFileSync(path, `${JSON.stringify(actual, null, 2)}\n`);
  if (!existsSync(path)) throw new Error(`${name} is missing: run with LINGSHU_UPDATE_GOLDEN=1 to write it, then review it`);
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The issues the store's write validation finds in each entry (empty when every entry would be written). */
export function writeProblems(output: Bundle | OperationOutcome): string[] {
  if (output.resourceType !== 'Bundle') return [`an OperationOutcome: ${JSON.stringify(output.issue)}`];
  const problems: string[] = [];
  for (const [i, entry] of (output.entry ?? []).entries()) {
    try {
      validateResourceForWrite(entry.resource as Resource);
    } catch (err) {
      if (!(err instanceof OperationOutcomeError)) throw err;
      for (const issue of err.outcome.issue ?? []) {
        if (issue.severity === 'error' || issue.severity === 'fatal') problems.push(`entry[${i}] ${entry.resource?.resourceType} ${issue.expression?.[0]}: ${issue.diagnostics}`);
      }
    }
  }
  return problems;
}

export function asBundle(output: Bundle | OperationOutcome): Bundle {
  if (output.resourceType !== 'Bundle') throw new Error(`expected a Bundle, got ${JSON.stringify(output)}`);
  return output;
}

export function resourcesOf<T extends Resource['resourceType']>(bundle: Bundle, type: T): Array<Extract<Resource, { resourceType: T }>> {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Extract<Resource, { resourceType: T }> => r?.resourceType === type);
}
