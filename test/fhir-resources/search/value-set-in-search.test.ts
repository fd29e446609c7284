import type { Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness, sorted } from './search-harness';

/*
 * Token `:in` / `:not-in` against value sets: stored ones (by expansion, by enumerated compose, by a whole stored
 * code system, including another stored value set, with excludes) and the R4 ones shipped with the server.
 */
const LOINC = 'http://loinc.org';
const obs = (id: string, system: string, code: string): Resource => ({ resourceType: 'Observation', id, status: 'final', code: { coding: [{ system, code }] } });

const resources: Resource[] = [
  obs('hb', LOINC, '718-7'), obs('plt', LOINC, '777-3'), obs('glu', LOINC, '2345-7'), obs('hb-local', 'urn:lis:local', '718-7'),
  obs('sperm', 'urn:lingshu:cs:repro', 'sperm-count'), obs('amh', 'urn:lingshu:cs:repro', 'amh'),
  { resourceType: 'ValueSet', id: 'blood', url: 'urn:lingshu:vs:blood-count', status: 'active', compose: { include: [{ system: LOINC, concept: [{ code: '718-7' }, { code: '777-3' }] }] } },
  { resourceType: 'ValueSet', id: 'expanded', url: 'urn:lingshu:vs:expanded', status: 'active', expansion: { timestamp: '2026-01-01T00:00:00Z', contains: [{ system: LOINC, code: '2345-7', contains: [{ system: LOINC, code: '777-3' }] }] } },
  { resourceType: 'CodeSystem', id: 'repro', url: 'urn:lingshu:cs:repro', status: 'active', content: 'complete', concept: [{ code: 'semen', concept: [{ code: 'sperm-count' }] }, { code: 'amh' }] },
  { resourceType: 'ValueSet', id: 'repro-all', url: 'urn:lingshu:vs:repro', status: 'active', compose: { include: [{ system: 'urn:lingshu:cs:repro' }] } },
  { resourceType: 'ValueSet', id: 'lab', url: 'urn:lingshu:vs:lab', status: 'active', compose: {
    include: [{ valueSet: ['urn:lingshu:vs:blood-count', 'urn:lingshu:vs:repro'] }], exclude: [{ system: 'urn:lingshu:cs:repro', concept: [{ code: 'amh' }] }],
  } },
  { resourceType: 'ValueSet', id: 'filtered', url: 'urn:lingshu:vs:filtered', status: 'active', compose: { include: [{ system: LOINC, filter: [{ property: 'COMPONENT', op: '=', value: 'Glucose' }] }] } },
  { resourceType: 'Patient', id: 'f', gender: 'female' }, { resourceType: 'Patient', id: 'u', gender: 'unknown' },
];

describe.each(ALL_DATABASES)('token :in and :not-in on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...resources);
  });
  afterAll(async () => h.close());

  it('matches the codes a stored value set enumerates, in their system only', async () => {
    expect(sorted(await h.ids('Observation?code:in=urn:lingshu:vs:blood-count'))).toEqual(['hb', 'plt']);
  });
  it(':not-in matches the rest', async () => {
    expect(sorted(await h.ids('Observation?code:not-in=urn:lingshu:vs:blood-count'))).toEqual(['amh', 'glu', 'hb-local', 'sperm']);
  });
  it('reads a stored expansion, nested entries included', async () => {
    expect(sorted(await h.ids('Observation?code:in=urn:lingshu:vs:expanded'))).toEqual(['glu', 'plt']);
  });
  it('expands a whole stored code system, child concepts included', async () => {
    expect(sorted(await h.ids('Observation?code:in=urn:lingshu:vs:repro'))).toEqual(['amh', 'sperm']);
  });
  it('follows included value sets and applies excludes', async () => {
    expect(sorted(await h.ids('Observation?code:in=urn:lingshu:vs:lab'))).toEqual(['hb', 'plt', 'sperm']);
  });
  it('ignores a version after the url and combines with other filters', async () => {
    expect(await h.ids('Observation?code:in=urn:lingshu:vs:blood-count|1.0&_id=hb')).toEqual(['hb']);
  });
  it('uses the R4 value sets shipped with the server for elements of type code', async () => {
    expect(await h.ids('Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender')).toEqual(expect.arrayContaining(['f', 'u']));
    expect(await h.ids('Patient?gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender')).toEqual([]);
  });
  it('refuses a value set it does not have or cannot expand, rather than matching part of it', async () => {
    await expect(h.ids('Observation?code:in=urn:lingshu:vs:nowhere')).rejects.toThrow(/neither in this server nor one it can expand/);
    await expect(h.ids('Observation?code:in=urn:lingshu:vs:filtered')).rejects.toThrow(/neither in this server nor one it can expand/);
  });
  it('is not taken inside _has', async () => {
    await expect(h.ids('Patient?_has:Observation:subject:code:in=urn:lingshu:vs:blood-count', { strict: true })).rejects.toThrow(/not inside a chain or _has/);
  });
});
