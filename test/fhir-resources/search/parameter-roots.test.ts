import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { hasAnyRoot, parameterRoots, presentRoots } from '../../../fhir-resources/search/parameter-roots';
import { parameterDetails, searchParametersOf } from '../../../fhir-resources/search/search-parameters';

const patientRef = { reference: 'Patient/p1' };
const RESOURCES: Resource[] = [
  { resourceType: 'Patient', _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'unknown' }] }, gender: 'male' } as Resource,
  { resourceType: 'Patient', name: [{ family: '张', given: ['三'] }], deceasedBoolean: false, telecom: [{ system: 'phone', value: '13900000000' }] },
  { resourceType: 'Patient', deceasedDateTime: '2024-01-01', address: [{ city: '北京' }], link: [{ other: patientRef, type: 'seealso' }] },
  {
    resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' }, subject: patientRef, valueQuantity: { value: 120, unit: 'g/L' },
    component: [{ code: { text: 'x' }, valueCodeableConcept: { text: 'y' } }],
  },
  { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'positive', effectivePeriod: { start: '2024-01-01' } },
  { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueCodeableConcept: { text: 'neg' }, dataAbsentReason: { text: 'n/a' } },
  { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: patientRef, period: { start: '2024-01-01' } },
  { resourceType: 'DiagnosticReport', status: 'final', code: { text: '血常规' }, subject: patientRef, result: [{ reference: 'Observation/o1' }] },
  { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: patientRef, medicationCodeableConcept: { text: '阿莫西林' }, groupIdentifier: { value: 'RX1' } },
  { resourceType: 'Medication', code: { text: '阿莫西林胶囊', coding: [{ display: 'Amoxicillin' }] } },
];

describe('parameterRoots', () => {
  it.each(RESOURCES.map((r, i) => [`${r.resourceType} #${i}`, r] as const))(
    'passes over only parameters that yield nothing for %s', (_name, resource) => {
      const root = toTypedValue(resource);
      const keys = Object.keys(resource);
      const wronglySkipped: string[] = [];
      for (const [code, param] of Object.entries(searchParametersOf(resource.resourceType))) {
        const roots = parameterRoots(resource.resourceType, param);
        if (!param.expression || !roots || hasAnyRoot(presentRoots(keys), roots)) continue;
        let values: unknown[] = [];
        try {
          values = evalFhirPathTyped(parameterDetails(resource.resourceType, param).parsedExpression, [root], { '%resource': root, '%rootResource': root });
        } catch {
          // not indexable either way
        }
        if (values.length > 0) wronglySkipped.push(code);
      }
      expect(wronglySkipped).toEqual([]);
    },
  );

  it('always evaluates an expression that yields a value without its element (Patient.deceased)', () => {
    expect(parameterRoots('Patient', searchParametersOf('Patient').deceased)).toBeUndefined();
  });

  it('finds a choice element by its typed name and an element by its primitive extension', () => {
    expect(hasAnyRoot(presentRoots(['resourceType', 'valueQuantity']), ['value'])).toBe(true);
    expect(hasAnyRoot(presentRoots(['resourceType', '_birthDate']), ['birthDate'])).toBe(true);
    expect(hasAnyRoot(presentRoots(['resourceType', 'valuesX']), ['value'])).toBe(false);
  });
});
