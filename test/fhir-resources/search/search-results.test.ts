import { OperationOutcomeError } from '@medplum/core';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness } from './search-harness';

const patient = (id: string, family: string | undefined, birthDate: string | undefined, gender = 'female'): Patient => ({
  resourceType: 'Patient', id, gender: gender as Patient['gender'], ...(family ? { name: [{ family }] } : {}), ...(birthDate ? { birthDate } : {}),
  telecom: [{ system: 'phone', value: '13800000000' }],
});

const resources: Resource[] = [
  patient('a', 'Chen', '1990-01-01'),
  patient('b', 'Chen', '1985-05-05'),
  patient('c', 'Anders', '1990-01-01', 'male'),
  patient('d', undefined, '2000-01-01'),
  patient('e', 'Baker', undefined),
];

describe.each(ALL_DATABASES)('search result controls on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...resources);
    const many: Observation[] = Array.from({ length: 25 }, (_, i) => ({ resourceType: 'Observation', id: `obs-${String(i).padStart(2, '0')}`, status: 'final', code: { text: 'x' } }));
    await h.put(...many);
  });
  afterAll(async () => h.close());

  it('_sort orders by several keys, each in its own direction', async () => {
    expect(await h.ids('Patient?_sort=family,-birthdate')).toEqual(['c', 'e', 'a', 'b', 'd']);
  });
  it('_sort puts resources without a value last, ascending and descending', async () => {
    expect(await h.ids('Patient?_sort=birthdate')).toEqual(['b', 'a', 'c', 'd', 'e']);
    expect(await h.ids('Patient?_sort=-birthdate')).toEqual(['d', 'a', 'c', 'b', 'e']);
  });
  it('_sort=-_id orders by id descending', async () => {
    expect(await h.ids('Patient?_sort=-_id')).toEqual(['e', 'd', 'c', 'b', 'a']);
  });
  it('pages through a multi-key sort with the cursor without repeats or gaps', async () => {
    const seen: string[] = [];
    let result = await h.search('Patient?_sort=family,-birthdate&_count=2');
    seen.push(...result.resources.map((r) => r.id as string));
    while (result.next) {
      result = await h.search(`Patient?_sort=family,-birthdate&_count=2&_cursor=${result.next}`);
      seen.push(...result.resources.map((r) => r.id as string));
    }
    expect(seen).toEqual(['c', 'e', 'a', 'b', 'd']);
  });
  it('a cursor from a search with another _sort is a bad request', async () => {
    const first = await h.search('Patient?_sort=family&_count=2');
    await expect(h.search(`Patient?_sort=birthdate&_count=2&_cursor=${first.next}`)).rejects.toThrow(/different search/);
  });
  it('_count defaults to 20 and says there is a next page', async () => {
    const result = await h.search('Observation');
    expect(result.resources).toHaveLength(20);
    expect(result.next).toBeDefined();
  });
  it('_count limits the page and the last page has no next cursor', async () => {
    const result = await h.search('Observation?_count=30');
    expect(result.resources).toHaveLength(25);
    expect(result.next).toBeUndefined();
  });
  it('_summary=count returns the total and no resources', async () => {
    const result = await h.search('Patient?family=chen&_summary=count');
    expect(result).toMatchObject({ resources: [], total: 2 });
  });
  it('_total=accurate returns the total beside the page', async () => {
    const result = await h.search('Observation?_count=5&_total=accurate');
    expect(result.resources).toHaveLength(5);
    expect(result.total).toBe(25);
  });
  it('no total unless asked', async () => {
    expect((await h.search('Observation?_count=5')).total).toBeUndefined();
  });
  it('_elements keeps the named elements, id and meta, and marks the resource subsetted', async () => {
    const [r] = (await h.search('Patient?_id=a&_elements=gender')).resources;
    expect(Object.keys(r).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
    expect(r.meta?.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
  });
  it('_summary=true keeps summary elements only', async () => {
    const [r] = (await h.search('Patient?_id=a&_summary=true')).resources as Patient[];
    expect(r.name).toBeDefined();
    expect(r.birthDate).toBe('1990-01-01');
    expect(r.telecom).toBeDefined();
    const [o] = (await h.search('Observation?_id=obs-00&_summary=true')).resources as Observation[];
    expect(o.status).toBe('final');
  });
  it('lenient handling ignores an unknown parameter and reports it as a warning', async () => {
    const result = await h.search('Patient?family=chen&shoe-size=42');
    expect(result.resources).toHaveLength(2);
    expect(result.outcome?.issue).toEqual([expect.objectContaining({ severity: 'warning', expression: ['shoe-size'] })]);
  });
  it('strict handling rejects an unknown parameter with a 400 naming it', async () => {
    const err = await h.search('Patient?shoe-size=42', { strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationOutcomeError);
    expect((err as OperationOutcomeError).outcome.issue?.[0]).toMatchObject({ code: 'invalid', expression: ['shoe-size'] });
    expect((err as OperationOutcomeError).outcome.issue?.[0].diagnostics).toContain('shoe-size');
  });
  it('strict handling rejects an unsupported modifier', async () => {
    await expect(h.search('Patient?gender:in=http://vs', { strict: true })).rejects.toThrow(/in/);
  });
  it('an unknown _sort parameter is reported under lenient handling', async () => {
    const result = await h.search('Patient?_sort=shoe-size');
    expect(result.outcome?.issue?.[0].expression).toEqual(['_sort']);
    expect(result.resources).toHaveLength(5);
  });
});
