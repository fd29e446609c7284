import type { Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness, sorted } from './search-harness';

const resources: Resource[] = [
  { resourceType: 'Patient', id: 'zhang-san', name: [{ family: '张', given: ['三'] }], gender: 'male', active: true,
    identifier: [{ system: 'urn:oid:2.16.156.10011.1.3', value: '110101199003070017', type: { text: '居民身份证' } }] },
  { resourceType: 'Patient', id: 'wang-wu', name: [{ family: '王', given: ['五'] }], gender: 'female', active: false,
    identifier: [{ value: 'MRN-42' }] },
  { resourceType: 'Patient', id: 'mueller', name: [{ family: 'Müller', given: ['Hans', 'Peter'] }], gender: 'male' },
  { resourceType: 'Patient', id: 'muller-lower', name: [{ family: 'muller', given: ['Anna'] }] },
  { resourceType: 'Practitioner', id: 'dr-li', name: [{ family: '李', given: ['建国'] }] },
  { resourceType: 'ActivityDefinition', id: 'cbc', status: 'active', name: 'CBC', title: '血常规' },
  { resourceType: 'Medication', id: 'amox', code: { text: '阿莫西林胶囊', coding: [{ system: 'urn:drug', code: 'A01', display: 'Amoxicillin capsules' }] } },
  { resourceType: 'Medication', id: 'ibu', code: { coding: [{ system: 'urn:drug', code: 'I02', display: '布洛芬缓释胶囊' }] } },
  // Texts ride on code rows (index-rows.ts addTokens): more texts than codes, and texts without any code.
  { resourceType: 'Medication', id: 'pcm', code: { text: '对乙酰氨基酚片', coding: [{ system: 'urn:drug', code: 'P03', display: 'Paracetamol tablets' }, { system: 'urn:atc', code: 'N02BE01' }] }, form: { text: '片剂' } },
  { resourceType: 'Medication', id: 'herb', code: { text: '板蓝根颗粒' } },
];

describe.each(ALL_DATABASES)('string and token search on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...resources);
  });
  afterAll(async () => h.close());

  describe('string', () => {
    it('matches the start of a name part, ignoring case and accents', async () => {
      expect(sorted(await h.ids('Patient?name=MULL'))).toEqual(['mueller', 'muller-lower']);
    });
    it('does not match in the middle of a Latin word by default', async () => {
      expect(await h.ids('Patient?name=ller')).toEqual([]);
    });
    it(':exact matches the whole value with its case and accents', async () => {
      expect(await h.ids('Patient?family:exact=Müller')).toEqual(['mueller']);
      expect(await h.ids('Patient?family:exact=müller')).toEqual([]);
    });
    it(':contains matches inside a word', async () => {
      expect(sorted(await h.ids('Patient?name:contains=ulle'))).toEqual(['mueller', 'muller-lower']);
    });
    it('finds a Chinese full name written family then given without a space', async () => {
      expect(await h.ids('Patient?name=张三')).toEqual(['zhang-san']);
    });
    it('finds Chinese text by a substring anywhere', async () => {
      expect(await h.ids('ActivityDefinition?title=常规')).toEqual(['cbc']);
    });
    it('finds a patient by the pinyin initials of the name (zs → 张三)', async () => {
      expect(await h.ids('Patient?name=zs')).toEqual(['zhang-san']);
    });
    it('finds a patient by the start of the full pinyin', async () => {
      expect(await h.ids('Patient?name=wangw')).toEqual(['wang-wu']);
    });
    it('finds a practitioner by pinyin initials', async () => {
      expect(await h.ids('Practitioner?name=ljg')).toEqual(['dr-li']);
    });
    it('finds an activity definition by the pinyin initials of its title', async () => {
      expect(await h.ids('ActivityDefinition?title=xcg')).toEqual(['cbc']);
    });
    it('finds a medication by the pinyin initials of its name (added name parameter)', async () => {
      expect(await h.ids('Medication?name=amxl')).toEqual(['amox']);
    });
    it('finds a medication by a Chinese substring of a coding display', async () => {
      expect(await h.ids('Medication?name=缓释')).toEqual(['ibu']);
    });
    it('ORs comma-separated values', async () => {
      expect(sorted(await h.ids('Patient?name=zs,wangw'))).toEqual(['wang-wu', 'zhang-san']);
    });
    it('ANDs a repeated parameter', async () => {
      expect(await h.ids('Patient?name=hans&name=peter')).toEqual(['mueller']);
      expect(await h.ids('Patient?name=hans&name=anna')).toEqual([]);
    });
    it('treats LIKE wildcards in the value literally', async () => {
      expect(await h.ids('Patient?name=%25')).toEqual([]);
      expect(await h.ids('Patient?name=_')).toEqual([]);
    });
  });

  describe('token', () => {
    it('matches system|code', async () => {
      expect(await h.ids('Patient?identifier=urn:oid:2.16.156.10011.1.3|110101199003070017')).toEqual(['zhang-san']);
    });
    it('does not match a code under another system', async () => {
      expect(await h.ids('Patient?identifier=urn:other|110101199003070017')).toEqual([]);
    });
    it('matches a code in any system', async () => {
      expect(await h.ids('Patient?identifier=MRN-42')).toEqual(['wang-wu']);
    });
    it('|code matches only codes without a system', async () => {
      expect(await h.ids('Patient?identifier=|MRN-42')).toEqual(['wang-wu']);
      expect(await h.ids('Patient?identifier=|110101199003070017')).toEqual([]);
    });
    it('system| matches any code of the system', async () => {
      expect(sorted(await h.ids('Medication?code=urn:drug|'))).toEqual(['amox', 'ibu', 'pcm']);
    });
    it('matches codes and booleans', async () => {
      expect(sorted(await h.ids('Patient?gender=male'))).toEqual(['mueller', 'zhang-san']);
      expect(await h.ids('Patient?active=false')).toEqual(['wang-wu']);
    });
    it('does not treat display text as a code', async () => {
      expect(await h.ids('Medication?code=Amoxicillin capsules')).toEqual([]);
    });
    it(':not returns resources without the code, including those with no value', async () => {
      expect(sorted(await h.ids('Patient?gender:not=male'))).toEqual(['muller-lower', 'wang-wu']);
    });
    it(':text matches the display or text of a code', async () => {
      expect(await h.ids('Medication?code:text=amoxicillin')).toEqual(['amox']);
      expect(await h.ids('Patient?identifier:text=身份证')).toEqual(['zhang-san']);
    });
    it(':text matches the pinyin initials of a Chinese display', async () => {
      expect(await h.ids('Medication?code:text=blf')).toEqual(['ibu']);
    });
    it(':text finds every text of a concept, with or without codes, and a code still matches only codes', async () => {
      expect(await h.ids('Medication?code:text=paracetamol')).toEqual(['pcm']);
      expect(await h.ids('Medication?code:text=乙酰氨基')).toEqual(['pcm']);
      expect(await h.ids('Medication?code:text=dyxajf')).toEqual(['pcm']);
      expect(await h.ids('Medication?form:text=片剂')).toEqual(['pcm']);
      expect(await h.ids('Medication?code:text=blg')).toEqual(['herb']);
      expect(await h.ids('Medication?code=urn:atc|N02BE01')).toEqual(['pcm']);
      expect(await h.ids('Medication?code=对乙酰氨基酚片')).toEqual([]);
      expect(sorted(await h.ids('Medication?code:missing=false'))).toEqual(['amox', 'herb', 'ibu', 'pcm']);
      expect(sorted(await h.ids('Medication?code:not=urn:drug|P03'))).toEqual(['amox', 'herb', 'ibu']);
    });
    it('_id matches one or several ids', async () => {
      expect(sorted(await h.ids('Patient?_id=wang-wu,mueller'))).toEqual(['mueller', 'wang-wu']);
    });
  });

  it('does not find a deleted resource', async () => {
    await h.put({ resourceType: 'Patient', id: 'gone', name: [{ family: 'Gone' }] });
    expect(await h.ids('Patient?name=gone')).toEqual(['gone']);
    await h.remove('Patient', 'gone');
    expect(await h.ids('Patient?name=gone')).toEqual([]);
  });

  it('replaces the index rows when a resource is indexed again', async () => {
    await h.put({ resourceType: 'Patient', id: 'renamed', name: [{ family: 'Before' }] });
    await h.put({ resourceType: 'Patient', id: 'renamed', name: [{ family: 'After' }] });
    expect(await h.ids('Patient?name=before')).toEqual([]);
    expect(await h.ids('Patient?name=after')).toEqual(['renamed']);
  });
});
