import { Operator, SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness, sorted } from './search-harness';

const obs = (id: string, extra: Record<string, unknown>): Resource =>
  ({ resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, ...extra }) as Resource;

const dateRequest = (value: string): SearchRequest => ({ resourceType: 'Observation', filters: [{ code: 'date', operator: Operator.EQUALS, value }] });

const resources: Resource[] = [
  obs('end-of-march', { effectiveDateTime: '2024-03-31T23:59:59Z', valueQuantity: { value: 5.4, system: 'http://unitsofmeasure.org', code: 'mg', unit: 'mg' } }),
  obs('april-first', { effectiveDateTime: '2024-04-01T00:00:00Z', valueQuantity: { value: 100, system: 'http://unitsofmeasure.org', code: 'mmol/L', unit: 'mmol/L' } }),
  obs('march-15-beijing', { effectiveDateTime: '2024-03-15T08:30:00+08:00', valueQuantity: { value: 7, unit: '次/分' } }),
  obs('period-feb-mar', { effectivePeriod: { start: '2024-02-20', end: '2024-03-05' } }),
  obs('open-period', { effectivePeriod: { start: '2024-06-01T00:00:00Z' } }),
  obs('no-date', {}),
  { resourceType: 'Patient', id: 'born-1980-03', birthDate: '1980-03' },
  { resourceType: 'Patient', id: 'born-1980-03-31', birthDate: '1980-03-31' },
  { resourceType: 'Patient', id: 'born-1981', birthDate: '1981' },
  { resourceType: 'RiskAssessment', id: 'p-half', status: 'final', subject: { reference: 'Patient/x' }, prediction: [{ probabilityDecimal: 0.5 }] },
  { resourceType: 'RiskAssessment', id: 'p-range', status: 'final', subject: { reference: 'Patient/x' }, prediction: [{ probabilityRange: { low: { value: 0.7 }, high: { value: 0.9 } } }] },
  { resourceType: 'RiskAssessment', id: 'p-100', status: 'final', subject: { reference: 'Patient/x' }, prediction: [{ probabilityDecimal: 100 }] },
  { resourceType: 'ValueSet', id: 'vs-gender', status: 'active', url: 'http://hl7.org/fhir/ValueSet/administrative-gender' },
  { resourceType: 'ValueSet', id: 'vs-local', status: 'active', url: 'urn:lingshu:vs:occupation' },
];

describe.each(ALL_DATABASES)('date, number, quantity and uri search on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...resources);
    // _lastUpdated comes from the store's column, written here with fixed instants.
    await h.put(
      { resourceType: 'Organization', id: 'old', meta: { lastUpdated: '2023-12-31T23:59:59.999Z' } },
      { resourceType: 'Organization', id: 'new', meta: { lastUpdated: '2024-01-01T00:00:00.000Z' } },
    );
  });
  afterAll(async () => h.close());

  describe('date precision', () => {
    it('a month matches its last second but not the next month’s first instant', async () => {
      const ids = await h.ids('Observation?date=2024-03');
      expect(ids).toContain('end-of-march');
      expect(ids).not.toContain('april-first');
    });
    it('a month matches a period only when the whole period lies in it', async () => {
      expect(await h.ids('Observation?date=2024-03')).not.toContain('period-feb-mar');
      expect(await h.ids('Observation?date=2024')).toContain('period-feb-mar');
    });
    it('a day compares instants in UTC (08:30 +08:00 is 00:30Z the same day)', async () => {
      expect(await h.ids('Observation?date=2024-03-15')).toEqual(['march-15-beijing']);
    });
    it('a minute with a time zone matches the instant inside it', async () => {
      expect(await h.ids('Observation?date=2024-03-15T08:30%2B08:00')).toEqual(['march-15-beijing']);
      expect(await h.ids('Observation?date=2024-03-15T08:31%2B08:00')).toEqual([]);
    });
    it('a second matches the instant and not the next second', async () => {
      expect(await h.ids('Observation?date=2024-03-31T23:59:59Z')).toEqual(['end-of-march']);
      expect(await h.ids('Observation?date=2024-04-01T00:00:00Z')).toEqual(['april-first']);
    });
    it('a stored month is matched by a search year but not by a day inside it', async () => {
      expect(sorted(await h.ids('Patient?birthdate=1980'))).toEqual(['born-1980-03', 'born-1980-03-31']);
      expect(await h.ids('Patient?birthdate=1980-03-31')).toEqual(['born-1980-03-31']);
    });
  });

  describe('date prefixes', () => {
    it('gt and lt compare with the end and start of the search range', async () => {
      expect(sorted(await h.ids('Observation?date=gt2024-03-31'))).toEqual(['april-first', 'open-period']);
      expect(await h.ids('Observation?date=lt2024-02-21')).toEqual(['period-feb-mar']);
    });
    it('ge and le include values inside the search range', async () => {
      expect(sorted(await h.ids('Observation?date=ge2024-04'))).toEqual(['april-first', 'open-period']);
      expect(sorted(await h.ids('Observation?date=le2024-03-01'))).toEqual(['period-feb-mar']);
    });
    it('ne excludes values inside the range', async () => {
      expect(sorted(await h.ids('Observation?date=ne2024-03'))).toEqual(['april-first', 'open-period', 'period-feb-mar']);
    });
    it('sa and eb need the whole stored range after or before', async () => {
      expect(sorted(await h.ids('Observation?date=sa2024-03-01'))).toEqual(['april-first', 'end-of-march', 'march-15-beijing', 'open-period']);
      expect(await h.ids('Observation?date=eb2024-03-06')).toEqual(['period-feb-mar']);
    });
    it('ap matches near the value', async () => {
      expect(await h.ids('Observation?date=ap2024-06-01')).toContain('open-period');
      expect(await h.ids('Observation?date=ap2030-01-01')).toEqual(['open-period']);
    });
    it('an open-ended period reaches into the far future', async () => {
      expect(await h.ids('Observation?date=gt2099')).toEqual(['open-period']);
    });
    it('a malformed date is a bad request', async () => {
      await expect(h.ids(dateRequest('2024-13'))).rejects.toThrow(/month/);
      await expect(h.ids(dateRequest('yesterday'))).rejects.toThrow(/not a FHIR date/);
    });
  });

  describe('_lastUpdated', () => {
    it('compares with the last-updated instant of the stored row', async () => {
      expect(await h.ids('Organization?_lastUpdated=ge2024-01-01')).toEqual(['new']);
      expect(await h.ids('Organization?_lastUpdated=2023-12-31')).toEqual(['old']);
    });
  });

  describe('number', () => {
    it('eq uses the precision of the value (100 matches 100, 0.5 matches 0.5)', async () => {
      expect(await h.ids('RiskAssessment?probability=100')).toEqual(['p-100']);
      expect(await h.ids('RiskAssessment?probability=0.5')).toEqual(['p-half']);
      expect(await h.ids('RiskAssessment?probability=0.51')).toEqual([]);
    });
    it('compares a stored range with prefixes', async () => {
      expect(sorted(await h.ids('RiskAssessment?probability=gt0.6'))).toEqual(['p-100', 'p-range']);
      expect(sorted(await h.ids('RiskAssessment?probability=lt0.8'))).toEqual(['p-half', 'p-range']);
      expect(sorted(await h.ids('RiskAssessment?probability=sa0.6'))).toEqual(['p-100', 'p-range']);
      expect(await h.ids('RiskAssessment?probability=eb0.6')).toEqual(['p-half']);
    });
    it('ap matches within 10 percent', async () => {
      expect(await h.ids('RiskAssessment?probability=ap95')).toEqual(['p-100']);
      expect(await h.ids('RiskAssessment?probability=ap80')).toEqual([]);
    });
  });

  describe('quantity', () => {
    it('matches value|system|code', async () => {
      expect(await h.ids('Observation?value-quantity=5.4|http://unitsofmeasure.org|mg')).toEqual(['end-of-march']);
      expect(await h.ids('Observation?value-quantity=5.4|http://unitsofmeasure.org|g')).toEqual([]);
    });
    it('matches value||unit against the code or the human unit', async () => {
      expect(await h.ids('Observation?value-quantity=7||次/分')).toEqual(['march-15-beijing']);
    });
    it('compares with prefixes and without a unit', async () => {
      expect(sorted(await h.ids('Observation?value-quantity=gt6'))).toEqual(['april-first', 'march-15-beijing']);
      expect(await h.ids('Observation?value-quantity=le5.4')).toEqual(['end-of-march']);
    });
    it('ORs values each with its own prefix', async () => {
      expect(sorted(await h.ids('Observation?value-quantity=lt6,gt50'))).toEqual(['april-first', 'end-of-march']);
    });
  });

  describe('uri', () => {
    it('matches the whole uri', async () => {
      expect(await h.ids('ValueSet?url=urn:lingshu:vs:occupation')).toEqual(['vs-local']);
      expect(await h.ids('ValueSet?url=urn:lingshu:vs')).toEqual([]);
    });
    it(':below matches uris under a prefix', async () => {
      expect(await h.ids('ValueSet?url:below=http://hl7.org/fhir/')).toEqual(['vs-gender']);
    });
  });

  describe(':missing', () => {
    it('true finds resources without a value, false those with one', async () => {
      expect(await h.ids('Observation?date:missing=true')).toEqual(['no-date']);
      expect(await h.ids('Observation?date:missing=false')).not.toContain('no-date');
      expect(sorted(await h.ids('Observation?value-quantity:missing=true'))).toEqual(['no-date', 'open-period', 'period-feb-mar']);
    });
  });
});
