import request from 'supertest';
import type { Bundle, Consent, Resource } from '@medplum/fhirtypes';
import { startSecureFhir, type SecureFhirFixture } from './secure-fhir-fixture';

/*
 * Family members (issue 7: "patients: only their own compartment, and family members they have been granted"): a
 * parent who manages a child's and an elderly mother's records in the mini program sees them because each of those
 * patients' records carries an active Consent naming the parent. The grant is enforced in the SQL restriction like
 * the compartment itself, and it ends the moment the Consent does.
 */
for (const db of ['sqlite', 'postgres'] as const) {
  describe(`family grants on ${db}`, () => {
    let f: SecureFhirFixture;
    const tokens: Record<string, string> = {};

    const consent = (grantor: string, grantee: string, status: Consent['status'] = 'active'): Consent => ({
      resourceType: 'Consent', status,
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }], text: '就诊人授权' }],
      patient: { reference: `Patient/${grantor}` },
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: { type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'FAMMEMB' }] }, reference: { reference: `Patient/${grantee}` } }] },
    });

    beforeAll(async () => {
      f = await startSecureFhir(db);
      const seed: Resource[] = [
        { resourceType: 'Patient', id: 'MOM', name: [{ text: '家长' }] },
        { resourceType: 'Patient', id: 'KID', name: [{ text: '孩子' }] },
        { resourceType: 'Patient', id: 'OTHER', name: [{ text: '路人' }] },
        ...['MOM', 'KID', 'OTHER'].map((p): Resource => ({ resourceType: 'Observation', id: `OBS-${p}`, status: 'final', code: { text: '血常规' }, subject: { reference: `Patient/${p}` } })),
      ];
      for (const r of seed) await f.repository.update(r);
      for (const p of ['MOM', 'KID', 'OTHER']) tokens[p] = await f.token('patient', `Patient/${p}`);
    }, 60_000);
    afterAll(() => f?.close());

    const get = (who: string, path: string) => request(f.app).get(`/fhir/${path}`).set('authorization', `Bearer ${tokens[who]}`);
    const post = (who: string, path: string, body: object) => request(f.app).post(`/fhir/${path}`).set('authorization', `Bearer ${tokens[who]}`).set('content-type', 'application/fhir+json').send(body);
    const observationIds = async (who: string) => ((await get(who, 'Observation')).body as Bundle).entry?.map((e) => e.resource!.id).sort() ?? [];

    it("does not show another patient's record without a grant", async () => {
      expect((await get('MOM', 'Observation/OBS-KID')).status).toBe(404);
      expect(await observationIds('MOM')).toEqual(['OBS-MOM']);
    });

    it("refuses with 403 a search that names another patient's records", async () => {
      expect((await get('MOM', 'Observation?subject=Patient/KID')).status).toBe(403);
      expect((await get('MOM', 'Observation?patient=KID')).status).toBe(403);
      expect((await get('MOM', 'Observation?subject=Patient/MOM')).status).toBe(200);
    });

    it('shows a granted family member’s record in reads and searches once the patient granted it', async () => {
      expect((await post('KID', 'Consent', consent('KID', 'MOM'))).status).toBe(201);
      expect((await get('MOM', 'Observation/OBS-KID')).status).toBe(200);
      expect(await observationIds('MOM')).toEqual(['OBS-KID', 'OBS-MOM']);
      expect((await get('MOM', 'Observation?subject=Patient/KID')).status).toBe(200);
      // The grant goes one way only.
      expect(await observationIds('KID')).toEqual(['OBS-KID']);
      expect((await get('OTHER', 'Observation/OBS-KID')).status).toBe(404);
    });

    it('refuses a family member passing the access on to someone else', async () => {
      const res = await post('MOM', 'Consent', consent('KID', 'OTHER'));
      expect(res.status).toBe(403);
      expect(await observationIds('OTHER')).toEqual(['OBS-OTHER']);
    });

    it('ends the access when the grant is revoked', async () => {
      const grants = ((await get('KID', 'Consent?patient=Patient/KID')).body as Bundle).entry!.map((e) => e.resource as Consent);
      expect(grants).toHaveLength(1);
      expect((await request(f.app).put(`/fhir/Consent/${grants[0].id}`).set('authorization', `Bearer ${tokens.KID}`).set('content-type', 'application/fhir+json')
        .send({ ...grants[0], status: 'inactive' })).status).toBe(200);
      expect((await get('MOM', 'Observation/OBS-KID')).status).toBe(404);
      expect(await observationIds('MOM')).toEqual(['OBS-MOM']);
    });
  });
}
