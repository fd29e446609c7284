import { parseFhirPath } from '@medplum/core';
import { invariantRoots } from '../../../fhir-resources/validation/invariant-roots';

const roots = (expression: string): string[] | undefined => {
  const found = invariantRoots(parseFhirPath(expression));
  return found && [...found].sort();
};

describe('invariantRoots', () => {
  it('names the first step of every path of an invariant that sees nothing else', () => {
    expect(roots('contained.contained.empty()')).toEqual(['contained']);
    expect(roots('contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()')).toEqual(['contained']);
    expect(roots('dataAbsentReason.empty() or value.empty()')).toEqual(['dataAbsentReason', 'value']);
    expect(roots("low.exists() or high.exists() or text.exists()")).toEqual(['high', 'low', 'text']);
    expect(roots("start.hasValue().not() or end.hasValue().not() or (start <= end)")).toEqual(["end", "start"]);
    expect(roots("name.where(use = 'official').exists() or 1 = 1")).toEqual(['name']);
  });

  it('knows nothing of an invariant that reaches elsewhere or starts with a function or a type', () => {
    expect(roots("reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)")).toBeUndefined();
    expect(roots('value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()')).toBeUndefined();
    expect(roots('hasValue() or (children().count() > id.count())')).toBeUndefined();
    expect(roots('Observation.value.exists()')).toBeUndefined();
    expect(roots('value is Quantity')).toBeUndefined();
  });
});
