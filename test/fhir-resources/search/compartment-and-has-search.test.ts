import type { Resource } from '@medplum/fhirtypes';
import type { RowRestriction } from '../../../fhir-resources/store/repository';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness, sorted } from './search-harness';

/*
 * `_compartment=Patient/x` (what GET Patient/x/Type runs) and `_has` (reverse chaining, one level) in the search
 * module, with the other parameters, sorting and a caller's restriction.
 */
const code = (c: string) => ({ coding: [{ system: 'http://loinc.org', code: c }] });

const resources: Resource[] = [
  { resourceType: 'Patient', id: 'p1', name: [{ family: '王' }], link: [{ other: { reference: 'Patient/p1-old' }, type: 'replaces' }] },
  { resourceType: 'Patient', id: 'p1-old', name: [{ family: '王' }], link: [{ other: { reference: 'Patient/p1' }, type: 'replaced-by' }] },
  { resourceType: 'Patient', id: 'p2', name: [{ family: '李' }] },
  { resourceType: 'DiagnosticReport', id: 'dr1', status: 'final', code: code('58410-2'), subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-01T08:00:00Z' },
  { resourceType: 'DiagnosticReport', id: 'dr1-prelim', status: 'preliminary', code: code('58410-2'), subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-02T08:00:00Z' },
  { resourceType: 'DiagnosticReport', id: 'dr2', status: 'final', code: code('58410-2'), subject: { reference: 'Patient/p2' } },
  // performer is a compartment parameter of Observation, focus is not.
  { resourceType: 'Observation', id: 'o1', status: 'final', code: code('1234-5'), subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-03-15T10:30:20Z' },
  { resourceType: 'Observation', id: 'o-performed', status: 'final', code: code('9999-9'), performer: [{ reference: 'Patient/p1' }] },
  { resourceType: 'Observation', id: 'o-focus', status: 'final', code: code('1234-5'), subject: { reference: 'Patient/p2' }, focus: [{ reference: 'Patient/p1' }] },
  { resourceType: 'Organization', id: 'org' },
];

describe.each(ALL_DATABASES)('compartment and _has search on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...resources);
  });
  afterAll(async () => h.close());

  describe('_compartment', () => {
    it('finds the rows whose compartment parameters name the patient', async () => {
      expect(sorted(await h.ids('DiagnosticReport?_compartment=Patient/p1'))).toEqual(['dr1', 'dr1-prelim']);
    });
    it('uses every compartment parameter of the type, and only those', async () => {
      expect(sorted(await h.ids('Observation?_compartment=Patient/p1'))).toEqual(['o-performed', 'o1']);
    });
    it('holds the patient itself and the patients that link to it', async () => {
      expect(sorted(await h.ids('Patient?_compartment=Patient/p1'))).toEqual(['p1', 'p1-old']);
    });
    it('combines with other parameters and sorting', async () => {
      expect(await h.ids('DiagnosticReport?_compartment=Patient/p1&status=final')).toEqual(['dr1']);
      expect(await h.ids('DiagnosticReport?_compartment=Patient/p1&_sort=-date')).toEqual(['dr1-prelim', 'dr1']);
    });
    it('is empty for a patient with no rows of the type', async () => {
      expect(await h.ids('DiagnosticReport?_compartment=Patient/nobody')).toEqual([]);
    });
    it('refuses a type outside the Patient compartment and a value that is not a patient', async () => {
      await expect(h.ids('Organization?_compartment=Patient/p1')).rejects.toThrow(/not in the Patient compartment/);
      await expect(h.ids('DiagnosticReport?_compartment=Encounter/e1')).rejects.toThrow(/Patient\/<id>/);
    });
    it('still applies the caller’s restriction', async () => {
      const onlyP2: RowRestriction = (db, query, type, alias) => {
        query.whereIn(`${alias}.id`, db('fhir_idx_reference').select('resource_id').where('resource_type', type).where('target_id', 'p2'));
      };
      expect(await h.ids('DiagnosticReport?_compartment=Patient/p1', { restriction: onlyP2 })).toEqual([]);
      expect(await h.ids('DiagnosticReport?_compartment=Patient/p2', { restriction: onlyP2 })).toEqual(['dr2']);
    });
  });

  describe('_has', () => {
    it('finds the patients an Observation with the code points at', async () => {
      expect(sorted(await h.ids('Patient?_has:Observation:patient:code=1234-5'))).toEqual(['p1', 'p2']);
    });
    it('follows only the named reference parameter', async () => {
      expect(await h.ids('Patient?_has:Observation:subject:code=9999-9')).toEqual([]);
      expect(await h.ids('Patient?_has:Observation:performer:code=9999-9')).toEqual(['p1']);
    });
    it('takes modifiers and prefixes of the inner parameter, dates of any precision included', async () => {
      expect(await h.ids('Patient?_has:Observation:subject:date=ge2024-03-15T10:30')).toEqual(['p1']);
      expect(await h.ids('Patient?_has:Observation:subject:date=gt2024-03-15T10:30')).toEqual([]);
      expect(await h.ids('Patient?_has:DiagnosticReport:subject:status:not=final')).toEqual(['p1']);
    });
    it('ANDs with the other filters', async () => {
      expect(await h.ids('Patient?_has:Observation:subject:code=1234-5&name=李')).toEqual(['p2']);
    });
    it('reads the referring resources under the caller’s restriction', async () => {
      const noObservations: RowRestriction = (_db, query, type) => { if (type === 'Observation') query.whereRaw('1 = 0'); };
      expect(await h.ids('Patient?_has:Observation:subject:code=1234-5', { restriction: noObservations })).toEqual([]);
    });
    it('refuses a second level, a non-reference parameter and a reference that cannot point at the type', async () => {
      const strict = { strict: true };
      await expect(h.ids('Patient?_has:Observation:subject:_has:Provenance:target:agent=x', strict)).rejects.toThrow(/one level/);
      await expect(h.ids('Patient?_has:Observation:code:status=final', strict)).rejects.toThrow(/not a reference/);
      await expect(h.ids('Patient?_has:Observation:encounter:status=final', strict)).rejects.toThrow(/does not refer to Patient/);
      const lenient = await h.search('Patient?_has:Observation:code:status=final');
      expect(lenient.outcome?.issue?.[0]?.diagnostics).toMatch(/not a reference/);
    });
  });
});
