import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { evaluatePath } from '../../../fhir-resources/search/compiled-fhirpath';
import { parameterDetails, searchParametersOf } from '../../../fhir-resources/search/search-parameters';
import { fixtureResources } from '../../support/fixture-resources';

const patientRef = { reference: 'Patient/p1', display: '张三' };
/** The shapes the fast navigation hands back to the library, and those it answers itself. */
const MADE: Resource[] = [
  { resourceType: 'Patient', id: 'p1', _birthDate: { extension: [{ url: 'http://example.org/x', valueString: 'unknown' }] }, birthDate: '1980-02-03' } as Resource,
  { resourceType: 'Patient', _gender: { id: 'g' }, name: [{ family: '张', given: ['三'], _given: [{ id: 'x' }] } as never], deceasedDateTime: '2024-01-01T08:00:00+08:00' } as Resource,
  { resourceType: 'Patient', name: [], address: [{}], telecom: [{ system: 'phone', value: '' }], link: [{ other: patientRef, type: 'seealso' }], deceasedBoolean: true },
  {
    resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: '血红蛋白' }] },
    subject: patientRef, performer: [{ reference: 'Practitioner/d1' }, patientRef], valueQuantity: { value: 120, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
    effectiveDateTime: '2024-01-01', component: [{ code: { text: 'x' }, valueQuantity: { value: 1 } }, { code: { text: 'y' }, valueCodeableConcept: { text: 'neg' } }],
    referenceRange: [{ low: { value: 1 }, high: { value: 2 } }], interpretation: [{ coding: [{ code: 'H' }] }],
  },
  { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'positive', effectivePeriod: { start: '2024-01-01', end: '2024-01-02' }, subject: { reference: 'Group/g1' } },
  { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueDateTime: '2024-05', _status: { extension: [{ url: 'http://example.org/s', valueCode: 'x' }] } } as Resource,
  {
    resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: patientRef, medicationReference: { reference: 'Medication/m1' },
    contained: [{ resourceType: 'Medication', id: 'm1', code: { text: '阿莫西林' } }], groupIdentifier: { value: 'RX1' },
    dosageInstruction: [{ timing: { repeat: { boundsPeriod: { start: '2024-01-01' } } } }],
  },
  { resourceType: 'Bundle', type: 'collection', identifier: { value: 'b1' }, entry: [{ resource: { resourceType: 'Patient', name: [{ text: 'x' }] } }] } as Bundle,
  { resourceType: 'Composition', status: 'final', type: { text: 't' }, date: '2024-01-01', author: [patientRef], title: 'x', section: [{ entry: [patientRef], section: [{ title: 'nested' }] }] },
  { resourceType: 'Questionnaire', status: 'active', item: [{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'string', code: [{ code: 'c' }] }] }] },
  { resourceType: 'Appointment', status: 'booked', participant: [{ actor: patientRef, status: 'accepted' }, { actor: { reference: 'Practitioner/d1' }, status: 'accepted' }], start: '2024-01-01T08:00:00Z' },
];

const RESOURCES = [...MADE, ...fixtureResources()];

describe('evaluatePath', () => {
  it('reads a corpus of resources', () => {
    expect(RESOURCES.length).toBeGreaterThan(100);
  });

  it('gives what the library gives, for every parameter of every resource', () => {
    const differences: string[] = [];
    for (const resource of RESOURCES) {
      const root = toTypedValue(resource);
      const variables = { '%resource': root, '%rootResource': root };
      for (const [code, param] of Object.entries(searchParametersOf(resource.resourceType))) {
        if (!param.expression) continue;
        const { parsedExpression } = parameterDetails(resource.resourceType, param);
        const outcome = (f: () => unknown): unknown => { try { return f(); } catch (e) { return `error: ${(e as Error).message}`; } };
        const library = outcome(() => evalFhirPathTyped(parsedExpression, [root], variables));
        const ours = outcome(() => evaluatePath(parsedExpression, root, variables));
        if (JSON.stringify(ours) !== JSON.stringify(library)) {
          differences.push(`${resource.resourceType}.${code}: ${JSON.stringify(ours)} ≠ ${JSON.stringify(library)}`);
        }
      }
    }
    expect(differences).toEqual([]);
  });

  it('keeps a primitive extension that the library merges into the value', () => {
    const root = toTypedValue(MADE[0]);
    const param = searchParametersOf('Patient').birthdate;
    const [value] = evaluatePath(parameterDetails('Patient', param).parsedExpression, root, { '%resource': root, '%rootResource': root });
    expect(value).toMatchObject({ type: 'date', value: '1980-02-03' });
  });
});
