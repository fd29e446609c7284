import type { Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness, sorted } from './search-harness';

const resources: Resource[] = [
  { resourceType: 'Organization', id: 'taoyuan', name: '桃源院区' },
  { resourceType: 'Patient', id: 'p1', name: [{ family: '张', given: ['三'] }], identifier: [{ system: 'urn:mrn', value: 'A1' }], managingOrganization: { reference: 'Organization/taoyuan' } },
  { resourceType: 'Patient', id: 'p2', name: [{ family: '李', given: ['四'] }], identifier: [{ system: 'urn:mrn', value: 'B2' }] },
  { resourceType: 'Group', id: 'g1', type: 'person', actual: true },
  { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'HGB' }, subject: { reference: 'Patient/p1' } },
  { resourceType: 'Observation', id: 'o2', status: 'final', code: { text: 'WBC' }, subject: { reference: 'https://other.example/fhir/Patient/p2' } },
  { resourceType: 'Observation', id: 'o3', status: 'final', code: { text: 'PLT' }, subject: { reference: 'Group/g1' } },
  { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'VR' }, subject: { reference: 'Patient/p1' } },
  { resourceType: 'Provenance', id: 'prov1', target: [{ reference: 'Observation/o1' }], recorded: '2024-01-01T00:00:00Z', agent: [{ who: { reference: 'Organization/taoyuan' } }] },
];

describe.each(ALL_DATABASES)('reference search and includes on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...resources);
  });
  afterAll(async () => h.close());

  it('matches Type/id', async () => {
    expect(await h.ids('Observation?subject=Patient/p1')).toEqual(['o1']);
  });
  it('matches an absolute URL by its Type/id tail', async () => {
    expect(await h.ids('Observation?subject=Patient/p2')).toEqual(['o2']);
    expect(await h.ids('Observation?subject=http://this.server/fhir/Patient/p1')).toEqual(['o1']);
  });
  it('matches a bare id when the parameter has one target type', async () => {
    expect(await h.ids('Observation?patient=p1')).toEqual(['o1']);
  });
  it('matches a bare id among several target types', async () => {
    expect(await h.ids('Observation?subject=g1')).toEqual(['o3']);
  });
  it('takes the target type as a modifier (subject:Patient=id) and matches that type only', async () => {
    await h.put({ resourceType: 'Group', id: 'p1', type: 'person', actual: true }, { resourceType: 'Observation', id: 'o-group-p1', status: 'final', code: { text: 'ALT' }, subject: { reference: 'Group/p1' } });
    try {
      expect(sorted(await h.ids('Observation?subject=p1'))).toEqual(['o-group-p1', 'o1']);
      expect(await h.ids('Observation?subject:Patient=p1')).toEqual(['o1']);
      expect(await h.ids('Observation?subject:Group=p1')).toEqual(['o-group-p1']);
      expect(sorted(await h.ids('Observation?subject:Patient=p1,p2'))).toEqual(['o1', 'o2']);
    } finally {
      await h.remove('Observation', 'o-group-p1');
      await h.remove('Group', 'p1');
    }
  });
  it('does not match another type with the same id', async () => {
    expect(await h.ids('Observation?subject=Group/p1')).toEqual([]);
  });
  it('chains one level with a target type (subject:Patient.identifier)', async () => {
    expect(await h.ids('Observation?subject:Patient.identifier=urn:mrn|A1')).toEqual(['o1']);
  });
  it('chains over the allowed target types (subject.name), pinyin included', async () => {
    expect(await h.ids('Observation?subject.name=ls')).toEqual(['o2']);
  });
  it('a chain does not reach deleted targets', async () => {
    await h.put({ resourceType: 'Patient', id: 'p9', name: [{ family: 'Ninth' }] },
      { resourceType: 'Observation', id: 'o9', status: 'final', code: { text: 'X' }, subject: { reference: 'Patient/p9' } });
    expect(await h.ids('Observation?subject.name=ninth')).toEqual(['o9']);
    await h.remove('Patient', 'p9');
    expect(await h.ids('Observation?subject.name=ninth')).toEqual([]);
  });
  it('a chain over a parameter the target lacks is an unknown parameter', async () => {
    await expect(h.search('Observation?subject.nonsense=1', { strict: true })).rejects.toThrow(/nonsense/);
  });

  it('_include adds the referenced resources', async () => {
    const result = await h.search('Observation?_id=o1,o3&_include=Observation:subject');
    expect(sorted(result.resources.map((r) => r.id as string))).toEqual(['o1', 'o3']);
    expect(sorted(result.included.map((r) => `${r.resourceType}/${r.id}`))).toEqual(['Group/g1', 'Patient/p1']);
  });
  it('_include with a target type adds only that type', async () => {
    const result = await h.search('Observation?_id=o1,o3&_include=Observation:subject:Group');
    expect(result.included.map((r) => `${r.resourceType}/${r.id}`)).toEqual(['Group/g1']);
  });
  it('_revinclude adds the resources that reference the matches', async () => {
    const result = await h.search('Patient?_id=p1&_revinclude=Observation:subject&_revinclude=Encounter:subject');
    expect(sorted(result.included.map((r) => `${r.resourceType}/${r.id}`))).toEqual(['Encounter/e1', 'Observation/o1']);
  });
  it('_include:iterate follows references of included resources one more level', async () => {
    const result = await h.search('Observation?_id=o1&_include=Observation:subject&_include:iterate=Patient:organization');
    expect(sorted(result.included.map((r) => `${r.resourceType}/${r.id}`))).toEqual(['Organization/taoyuan', 'Patient/p1']);
  });
  it('_revinclude:iterate finds what references the revincluded resources', async () => {
    const result = await h.search('Patient?_id=p1&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target');
    expect(sorted(result.included.map((r) => `${r.resourceType}/${r.id}`))).toEqual(['Observation/o1', 'Provenance/prov1']);
  });
  it('without :iterate the included resources are not followed', async () => {
    const result = await h.search('Observation?_id=o1&_include=Observation:subject&_include=Patient:organization');
    expect(result.included.map((r) => `${r.resourceType}/${r.id}`)).toEqual(['Patient/p1']);
  });
});
