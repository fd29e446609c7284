import request from 'supertest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { startSecureFhir, type SecureFhirFixture } from '../auth/secure-fhir-fixture';

/*
 * GET /fhir/Patient/{id}/{type} (R4 compartment search) through the production stack: the same search as
 * /fhir/{type} narrowed to the patient's compartment, with parameters, paging and _include, and the caller's
 * access still applied. A search never reveals rows the caller may not see: another patient's compartment is an
 * empty Bundle, as `DiagnosticReport?subject=Patient/other` is (fhir-resources/auth/authorized-repository.ts).
 */
const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });

function seed(): Resource[] {
  return [
    { resourceType: 'Patient', id: 'P1', name: [{ family: '王', given: ['测试'] }] },
    { resourceType: 'Patient', id: 'P2', name: [{ family: '李', given: ['测试'] }] },
    { resourceType: 'Practitioner', id: 'D1', name: [{ family: '张医生' }] },
    { resourceType: 'Encounter', id: 'E1', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: 'Patient/P1' }, participant: [{ individual: { reference: 'Practitioner/D1' } }] },
    { resourceType: 'Observation', id: 'O1', status: 'final', code: loinc('718-7'), subject: { reference: 'Patient/P1' } },
    { resourceType: 'DiagnosticReport', id: 'R1a', status: 'final', code: loinc('58410-2'), subject: { reference: 'Patient/P1' }, effectiveDateTime: '2026-11-25T10:30:30+08:00', result: [{ reference: 'Observation/O1' }] },
    { resourceType: 'DiagnosticReport', id: 'R1b', status: 'final', code: loinc('24323-8'), subject: { reference: 'Patient/P1' }, effectiveDateTime: '2026-11-24T09:00:00+08:00' },
    { resourceType: 'DiagnosticReport', id: 'R1c', status: 'preliminary', code: loinc('24323-8'), subject: { reference: 'Patient/P1' }, effectiveDateTime: '2026-11-23T09:00:00+08:00' },
    { resourceType: 'DiagnosticReport', id: 'R2', status: 'final', code: loinc('58410-2'), subject: { reference: 'Patient/P2' } },
  ];
}

const ids = (bundle: Bundle, mode = 'match'): string[] => (bundle.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource!.id!).sort();

describe.each(ALL_DATABASES)('compartment search over REST on %s', (kind) => {
  let fx: SecureFhirFixture;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    fx = await startSecureFhir(kind);
    for (const r of seed()) await fx.repository.update(r);
    tokens.P1 = await fx.token('patient', 'Patient/P1');
    tokens.P2 = await fx.token('patient', 'Patient/P2');
    tokens.D1 = await fx.token('doctor', 'Practitioner/D1');
    tokens.admin = await fx.token('admin');
  });
  afterAll(async () => { await fx?.close(); });

  const get = (who: string, path: string) => request(fx.app).get(`/fhir/${path}`).set('Authorization', `Bearer ${tokens[who]}`);

  it('a patient finds their own diagnostic reports by Patient/x/DiagnosticReport', async () => {
    const res = await get('P1', 'Patient/P1/DiagnosticReport');
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(['R1a', 'R1b', 'R1c']);
    expect(res.body.link[0].url).toMatch(/\/fhir\/Patient\/P1\/DiagnosticReport$/);
  });

  it('the normal search parameters, with dates of minute precision, narrow a compartment search', async () => {
    expect(ids((await get('P1', 'Patient/P1/DiagnosticReport?status=final&code=24323-8')).body)).toEqual(['R1b']);
    const res = await get('P1', `Patient/P1/DiagnosticReport?date=ge${encodeURIComponent('2026-11-25T10:30+08:00')}`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(['R1a']);
    expect(ids((await get('P1', 'Patient/P1/DiagnosticReport?date=gt2026-11-25T02:30Z')).body)).toEqual([]);
  });

  it('_include brings the reports’ results', async () => {
    const res = await get('P1', 'Patient/P1/DiagnosticReport?code=58410-2&_include=DiagnosticReport:result');
    expect(ids(res.body)).toEqual(['R1a']);
    expect(ids(res.body, 'include')).toEqual(['O1']);
  });

  it('pages through the compartment with next links under the compartment URL', async () => {
    const seen: string[] = [];
    let path = 'Patient/P1/DiagnosticReport?_count=2&_sort=-date';
    for (let page = 0; page < 5 && path; page += 1) {
      const res = await get('P1', path);
      seen.push(...(res.body as Bundle).entry!.map((e) => e.resource!.id!));
      const next = (res.body as Bundle).link?.find((l) => l.relation === 'next')?.url;
      if (next) expect(next).toMatch(/\/fhir\/Patient\/P1\/DiagnosticReport\?/);
      path = next ? next.slice(next.indexOf('/fhir/') + 6) : '';
    }
    expect(seen).toEqual(['R1a', 'R1b', 'R1c']);
  });

  it('POST Patient/x/Type/_search takes form parameters', async () => {
    const res = await request(fx.app).post('/fhir/Patient/P1/DiagnosticReport/_search').set('Authorization', `Bearer ${tokens.P1}`)
      .type('form').send('status=preliminary');
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(['R1c']);
  });

  it('another patient’s compartment is empty for a patient, as their rows are in any search', async () => {
    const res = await get('P2', 'Patient/P1/DiagnosticReport');
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([]);
    expect(ids((await get('P2', 'Patient/P2/DiagnosticReport')).body)).toEqual(['R2']);
  });

  it('a doctor sees the compartments of their patients only; an administrator sees every one', async () => {
    expect(ids((await get('D1', 'Patient/P1/DiagnosticReport')).body)).toEqual(['R1a', 'R1b', 'R1c']);
    expect(ids((await get('D1', 'Patient/P2/DiagnosticReport')).body)).toEqual([]);
    expect(ids((await get('admin', 'Patient/P2/DiagnosticReport')).body)).toEqual(['R2']);
  });

  it('the Patient type in a patient’s compartment is the patient', async () => {
    expect(ids((await get('P1', 'Patient/P1/Patient')).body)).toEqual(['P1']);
  });

  it('a type outside the compartment, every type (*), another compartment and an unknown type are clear 4xx answers', async () => {
    const outside = await get('admin', 'Patient/P1/Practitioner');
    expect(outside.status).toBe(400);
    expect(outside.body.issue[0].diagnostics).toMatch(/not in the Patient compartment/);
    expect((await get('admin', 'Patient/P1/*')).status).toBe(400);
    expect((await get('admin', 'Encounter/E1/Observation')).status).toBe(400);
    expect((await get('admin', 'Patient/P1/NoSuchType')).status).toBeGreaterThanOrEqual(400);
    expect((await request(fx.app).delete('/fhir/Patient/P1/DiagnosticReport').set('Authorization', `Bearer ${tokens.admin}`)).status).toBe(405);
  });
});
