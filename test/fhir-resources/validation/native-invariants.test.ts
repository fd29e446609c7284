import { evalFhirPathTyped, parseFhirPath, toTypedValue } from '@medplum/core';
import { loadR4Definitions } from '../../../fhir-resources/definitions';
import { nativeInvariant } from '../../../fhir-resources/validation/native-invariants';

type Element = Record<string, unknown>;

/** What the FHIRPath engine says of the invariant on `value`, as plain-structure.ts asks it. */
function engineSays(expression: string, type: string, value: Element, resource: Element): boolean {
  const context = { type, value };
  const root = toTypedValue(resource);
  const result = evalFhirPathTyped(parseFhirPath(expression), [context], { '%resource': root, '%rootResource': root, '%context': context });
  return result.length === 1 && result[0].value === true;
}

const quantity = { value: 6.5, unit: '10*9/L', system: 'http://unitsofmeasure.org', code: '10*9/L' };
const code = { coding: [{ system: 'http://loinc.org', code: '6690-2' }] };
const observations: Element[] = [
  { resourceType: 'Observation', status: 'final', code, valueQuantity: quantity },
  { resourceType: 'Observation', status: 'final', code, dataAbsentReason: { text: '未检测' } },
  { resourceType: 'Observation', status: 'final', code, valueString: '阴性', dataAbsentReason: { text: '未检测' } },
  { resourceType: 'Observation', status: 'final', code, valueQuantity: quantity, component: [{ code, valueQuantity: quantity }] },
  { resourceType: 'Observation', status: 'final', code, valueQuantity: quantity, component: [{ code: { text: '其他' }, valueQuantity: quantity }] },
  { resourceType: 'Observation', status: 'final', code, component: [{ code, valueQuantity: quantity }] },
  { resourceType: 'Observation', status: 'final', code, _valueString: { extension: [{ url: 'http://example.org/x', valueString: 'x' }] } },
  { resourceType: 'Observation', status: 'final', code, valueBoolean: false },
];
const ranges: Element[] = [{ low: quantity }, { high: quantity }, { text: '3.5-9.5' }, { low: quantity, high: quantity, text: 'x' }, { type: code }, {}];
const extensions: Element[] = [
  { url: 'http://example.org/a', valueString: '汉族' }, { url: 'http://example.org/a', extension: [{ url: 'b', valueCode: 'x' }] },
  { url: 'http://example.org/a' }, { url: 'http://example.org/a', valueString: 'x', extension: [{ url: 'b', valueCode: 'x' }] },
  { url: 'http://example.org/a', extension: [] }, { url: 'http://example.org/a', _valueString: { extension: [] } },
  { url: 'http://example.org/a', valueBoolean: false }, { url: 'http://example.org/a', valueInteger: 0 },
];

const cases: Array<[string, string, string, Element[], (v: Element) => Element]> = [
  ['obs-6', 'dataAbsentReason.empty() or value.empty()', 'Observation', observations, (v) => v],
  ['obs-7', 'value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()', 'Observation', observations, (v) => v],
  ['obs-3', 'low.exists() or high.exists() or text.exists()', 'ObservationReferenceRange', ranges, () => observations[0]],
  ['ext-1', 'extension.exists() != value.exists()', 'Extension', extensions, () => observations[0]],
];

describe('native invariants', () => {
  beforeAll(() => loadR4Definitions());

  it.each(cases)('%s holds plainly only where the FHIRPath engine says it holds, and settles the common cases', (key, expression, type, values, resourceOf) => {
    const check = nativeInvariant(key, expression)!;
    expect(check).toBeDefined();
    let settled = 0;
    for (const value of values) {
      const native = check(value);
      if (native === true) {
        settled += 1;
        expect({ value, engine: engineSays(expression, type, value, resourceOf(value)) }).toEqual({ value, engine: true });
      }
    }
    expect(settled).toBeGreaterThanOrEqual(3);
  });

  it('turns a check off when the definitions carry another expression under its key', () => {
    expect(nativeInvariant('obs-6', 'dataAbsentReason.empty() or value.empty() or true')).toBeUndefined();
    expect(nativeInvariant('pat-1', 'name.exists() or telecom.exists()')).toBeUndefined();
  });
});
