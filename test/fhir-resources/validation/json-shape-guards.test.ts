import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { jsonShapeIssues, MAX_ARRAY_LENGTH, MAX_NESTING_DEPTH } from '../../../fhir-resources/validation/json-shape-guards';
import { validateResourceForWrite } from '../../../fhir-resources/validation/validate-resource';

/**
 * A Patient whose extensions nest `levels` deep, each level an object inside an array (2 JSON levels), the innermost
 * holding `bottom` as its value: depth = 1 (Patient) + 2 × levels + the depth of `bottom`.
 */
function nestedExtensions(levels: number, bottom: Record<string, unknown> = { valueString: 'bottom' }): Resource {
  const root: Record<string, unknown> = { resourceType: 'Patient' };
  let current = root;
  for (let i = 0; i < levels; i++) {
    const child: Record<string, unknown> = { url: 'http://example.org/nested' };
    current.extension = [child];
    current = child;
  }
  Object.assign(current, bottom);
  return root as unknown as Resource;
}

function outcomeOf(fn: () => void): OperationOutcome {
  try {
    fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome;
    throw err;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe('JSON shape guards', () => {
  it('accepts exactly 32 levels of nesting', () => {
    expect(MAX_NESTING_DEPTH).toBe(32);
    expect(jsonShapeIssues(nestedExtensions(15, { valueCodeableConcept: { text: '32nd level' } }))).toEqual([]);
  });

  it('refuses the 33rd level and names where it starts', () => {
    const issues = jsonShapeIssues(nestedExtensions(15, { valueCodeableConcept: { coding: [{ code: '34th level' }] } }));
    expect(issues).toHaveLength(1);
    expect(issues[0].code).toBe('too-costly');
    expect(issues[0].expression?.[0]).toMatch(/^Patient(\.extension\[0\]){15}\.valueCodeableConcept\.coding$/);
  });

  it('refuses 100,000 levels of nesting without overflowing the stack', () => {
    const issues = jsonShapeIssues(nestedExtensions(100_000));
    expect(issues).toHaveLength(1);
    expect(issues[0].diagnostics).toMatch(/deeper than 32 levels/);
  });

  it('refuses an array longer than the limit with its FHIRPath', () => {
    const names = Array.from({ length: MAX_ARRAY_LENGTH + 1 }, () => ({ text: '张三' }));
    const issues = jsonShapeIssues({ resourceType: 'Patient', name: names });
    expect(issues).toEqual([expect.objectContaining({ code: 'too-costly', expression: ['Patient.name'] })]);
  });

  it('reports every over-long array, not only the first', () => {
    const long = Array.from({ length: MAX_ARRAY_LENGTH + 1 }, () => ({ value: 'x' }));
    const issues = jsonShapeIssues({ resourceType: 'Patient', identifier: long, telecom: long });
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Patient.identifier', 'Patient.telecom']);
  });

  it('refuses a body that is not a JSON object', () => {
    expect(jsonShapeIssues([{ resourceType: 'Patient' }])).toEqual([expect.objectContaining({ code: 'structure', expression: ['Resource'] })]);
    expect(jsonShapeIssues('Patient')).toEqual([expect.objectContaining({ code: 'structure' })]);
  });

  it('refuses an object without resourceType', () => {
    expect(jsonShapeIssues({ gender: 'male' })).toEqual([expect.objectContaining({ code: 'required', expression: ['Resource.resourceType'] })]);
  });

  it('makes validateResourceForWrite reject deep nesting with an OperationOutcome instead of a stack overflow', () => {
    const outcome = outcomeOf(() => validateResourceForWrite(nestedExtensions(50_000)));
    expect(outcome.issue).toEqual([expect.objectContaining({ severity: 'error', code: 'too-costly' })]);
  });
});
