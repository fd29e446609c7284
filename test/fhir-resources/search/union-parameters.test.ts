import type { Observation, Resource } from '@medplum/fhirtypes';
import { extractIndexRows } from '../../../fhir-resources/search/index-rows';
import { mayMatch } from '../../../fhir-resources/search/may-match';
import { migrateFhirSearch } from '../../../fhir-resources/search/search-migrations';
import { storedParameters, unionsOf } from '../../../fhir-resources/search/search-parameters';
import { ALL_DATABASES } from '../../support/databases';
import { request, SearchHarness, sorted } from './search-harness';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const quantity = (value: number, code: string) => ({ value, unit: code, system: UCUM, code });
const concept = (code: string, display?: string) => ({ coding: [{ system: LOINC, code, display }] });

const observations: Observation[] = [
  { resourceType: 'Observation', id: 'hgb', status: 'final', code: concept('718-7', 'Hemoglobin'), valueQuantity: quantity(132, 'g/L') },
  {
    resourceType: 'Observation', id: 'bp', status: 'final', code: concept('85354-9', 'Blood pressure panel'),
    component: [
      { code: concept('8480-6', 'Systolic blood pressure'), valueQuantity: quantity(120, 'mm[Hg]') },
      { code: concept('8462-4', 'Diastolic blood pressure'), valueQuantity: quantity(80, 'mm[Hg]') },
    ],
  },
  {
    resourceType: 'Observation', id: 'hbsag', status: 'final', code: concept('5196-1', '乙肝表面抗原'), valueCodeableConcept: concept('10828004', 'Positive'),
    component: [{ code: concept('5195-3'), dataAbsentReason: { coding: [{ code: 'not-performed' }] } }],
  },
  { resourceType: 'Observation', id: 'absent', status: 'final', code: concept('2345-7'), dataAbsentReason: { coding: [{ code: 'asked-unknown' }] } },
];

describe('union search parameters', () => {
  it('are derived from the definitions: Observation\'s four combo parameters, stored as their members', () => {
    expect(Object.fromEntries(unionsOf('Observation'))).toEqual({
      'combo-code': ['code', 'component-code'],
      'combo-data-absent-reason': ['component-data-absent-reason', 'data-absent-reason'],
      'combo-value-concept': ['component-value-concept', 'value-concept'],
      'combo-value-quantity': ['component-value-quantity', 'value-quantity'],
    });
    expect(storedParameters('Observation', 'code')).toEqual(['code']);
    expect(unionsOf('Patient').size).toBe(0);
    expect(unionsOf('DiagnosticReport').size).toBe(0);
  });

  it('get no index rows of their own', () => {
    const rows = extractIndexRows(observations[1]);
    const params = [...rows.token, ...rows.quantity].map((r) => r.param);
    expect(params.filter((p) => String(p).startsWith('combo-'))).toEqual([]);
    expect(params).toEqual(expect.arrayContaining(['code', 'component-code', 'component-value-quantity']));
  });

  it('are judged by a write\'s read-ahead conditions from their members\' values', () => {
    expect(mayMatch(observations[1], request('Observation?combo-code=8480-6'))).toBe(true);
    expect(mayMatch(observations[1], request('Observation?combo-code=85354-9'))).toBe(true);
    expect(mayMatch(observations[1], request('Observation?combo-code=718-7'))).toBe(false);
  });
});

describe.each(ALL_DATABASES)('union search parameters on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...(structuredClone(observations) as Resource[]));
  });
  afterAll(async () => h.close());

  it('find what their members find between them, with every modifier and prefix', async () => {
    const union = async (a: string, b: string) => sorted([...new Set([...(await h.ids(a)), ...(await h.ids(b))])]);
    for (const [query, expected] of [
      ['combo-code=718-7', ['hgb']],
      ['combo-code=8480-6', ['bp']],
      ['combo-code=http://loinc.org|85354-9,5195-3', ['bp', 'hbsag']],
      ['combo-code:not=8480-6', ['absent', 'hbsag', 'hgb']],
      ['combo-code:text=systolic', ['bp']],
      ['combo-code:text=乙肝', ['hbsag']],
      ['combo-value-quantity=gt100', ['bp', 'hgb']],
      ['combo-value-quantity=lt90', ['bp']],
      ['combo-value-quantity=132|http://unitsofmeasure.org|g/L', ['hgb']],
      ['combo-value-concept=10828004', ['hbsag']],
      ['combo-data-absent-reason=not-performed,asked-unknown', ['absent', 'hbsag']],
      ['combo-value-quantity:missing=true', ['absent', 'hbsag']],
      ['combo-value-quantity:missing=false', ['bp', 'hgb']],
    ] as const) {
      expect([query, sorted(await h.ids(`Observation?${query}`))]).toEqual([query, [...expected]]);
    }
    expect(sorted(await h.ids('Observation?combo-code=8480-6,718-7'))).toEqual(await union('Observation?code=8480-6,718-7', 'Observation?component-code=8480-6,718-7'));
    // Combined with another filter on the same index table (the driving subquery and its join).
    expect(await h.ids('Observation?combo-code=8462-4&combo-value-quantity=lt100&status=final')).toEqual(['bp']);
  });

  it('sort by their members\' values', async () => {
    // Without a value they come last, by id.
    expect(await h.ids('Observation?_sort=combo-value-quantity')).toEqual(['bp', 'hgb', 'absent', 'hbsag']);
    expect((await h.ids('Observation?_sort=-combo-value-quantity')).slice(0, 2)).toEqual(['hgb', 'bp']);
  });

  it('a migration step drops the rows an earlier version wrote for them', async () => {
    await h.db('fhir_idx_token').insert({ resource_type: 'Observation', resource_id: 'hgb', param: 'combo-code', system: LOINC, value: '718-7' });
    await h.db('fhir_idx_quantity').insert({ resource_type: 'Observation', resource_id: 'hgb', param: 'combo-value-quantity', value: 132, system: UCUM, code: 'g/L', unit: 'g/L' });
    // Back to before the step that drops them (the last but three: the combo rows' sort dates, the narrowed combo
    // rows and the merged reference index came after it).
    await h.db('lingshu_schema_versions').where({ component: 'fhir-search' }).decrement('version', 4);
    await migrateFhirSearch(h.db);
    expect(Number((await h.db('fhir_idx_token').where({ param: 'combo-code' }).count({ n: '*' }))[0].n)).toBe(0);
    expect(Number((await h.db('fhir_idx_quantity').where({ param: 'combo-value-quantity' }).count({ n: '*' }))[0].n)).toBe(0);
    expect(await h.ids('Observation?combo-code=718-7')).toEqual(['hgb']);
  });
});
