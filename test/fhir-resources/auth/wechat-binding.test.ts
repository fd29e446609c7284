import request from 'supertest';
import type { Bundle, OperationOutcome, Parameters, Patient, Resource } from '@medplum/fhirtypes';
import { AUDIT_TABLE } from '../../../fhir-resources/audit/audit-log';
import { RESIDENT_ID_SYSTEM, WECHAT_UNIONID_SYSTEM, wechatOpenidSystem } from '../../../fhir-resources/profiles/lingshu-canonical';
import { residentIdCheckDigit } from '../../../fhir-resources/profiles/resident-id';
import { startSecureFhir, type SecureFhirFixture } from './secure-fhir-fixture';

/*
 * Patients from the mini program (issue 7: "WeChat openid / unionid bound to a Patient"): the hospital's login
 * service gives a token with the WeChat account and no Patient. Such a token sees nothing until `$bind-wechat`
 * (name + 居民身份证号) binds the account to the patient's record; then the same token reads that record and its
 * bills. Refused bindings say nothing about the record and are audited like every operation call.
 */
const residentId = (first17: string): string => first17 + residentIdCheckDigit(first17);
const ID_ZHANG = residentId('45010219800101003');
const ID_LI = residentId('45010219851212002');
const ID_NOBODY = residentId('45010219900505001');
const APP = 'wx0a1b2c3d4e5f6a7b';
const OTHER_APP = 'wx9f8e7d6c5b4a3f2e';

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`binding a mini-program account to a patient on ${kind}`, () => {
    let fx: SecureFhirFixture;

    const wechatToken = async (account: { openid: string; appid?: string; unionid?: string }) =>
      (await fx.issuer.issue({ role: 'patient', appid: APP, ...account })).access_token;
    const get = (token: string, path: string) => request(fx.app).get(`/fhir/${path}`).set('authorization', `Bearer ${token}`);
    const ids = async (token: string, path: string) => {
      const res = await get(token, path);
      expect(res.status).toBe(200);
      return (res.body as Bundle).entry?.map((e) => e.resource!.id).sort() ?? [];
    };
    const bind = (token: string, values: { name: string; idNumber: string; phone?: string }) => request(fx.app).post('/fhir/Patient/$bind-wechat')
      .set('authorization', `Bearer ${token}`).set('content-type', 'application/fhir+json')
      .send({ resourceType: 'Parameters', parameter: Object.entries(values).map(([name, valueString]) => ({ name, valueString })) });
    const lastOperationAudit = async () => (await fx.db(AUDIT_TABLE).where({ subtype: 'operation' }).orderBy('seq', 'desc').first()) as Record<string, unknown>;

    beforeAll(async () => {
      fx = await startSecureFhir(kind);
      const seed: Resource[] = [
        { resourceType: 'Patient', id: 'ZHANG', name: [{ family: '张', given: ['三'] }], identifier: [{ system: RESIDENT_ID_SYSTEM, value: ID_ZHANG }], telecom: [{ system: 'phone', value: '13800000000', use: 'mobile' }] },
        { resourceType: 'Patient', id: 'LI', name: [{ text: '李四' }], identifier: [{ system: RESIDENT_ID_SYSTEM, value: ID_LI }] },
        { resourceType: 'ChargeItem', id: 'BILL-ZHANG', status: 'billable', code: { text: '挂号费' }, subject: { reference: 'Patient/ZHANG' } },
        { resourceType: 'ChargeItem', id: 'BILL-LI', status: 'billable', code: { text: '血常规' }, subject: { reference: 'Patient/LI' } },
      ];
      for (const r of seed) await fx.repository.update(r);
    }, 60_000);
    afterAll(() => fx?.close());

    it('shows an unbound mini-program account no patient data', async () => {
      const token = await wechatToken({ openid: 'oUNBOUND-openid-000000000001' });
      expect(await ids(token, 'Patient')).toEqual([]);
      expect(await ids(token, 'ChargeItem')).toEqual([]);
      expect((await get(token, 'Patient/ZHANG')).status).toBe(404);
      expect((await get(token, 'ChargeItem?subject=Patient/ZHANG')).status).toBe(403);
    });

    it('binds the account by name and ID number, after which the same token reads its own record and bills', async () => {
      const token = await wechatToken({ openid: 'oZHANG-openid-00000000000001', unionid: 'uZHANG-unionid-0000000000001' });
      expect(await ids(token, 'Patient')).toEqual([]);
      const res = await bind(token, { name: '张三', idNumber: ID_ZHANG, phone: '+86 138-0000-0000' });
      expect(res.status).toBe(200);
      expect((res.body as Parameters).parameter).toEqual([{ name: 'patient', valueReference: { reference: 'Patient/ZHANG' } }]);
      expect(await ids(token, 'Patient')).toEqual(['ZHANG']);
      expect(await ids(token, 'ChargeItem')).toEqual(['BILL-ZHANG']);
      expect((await get(token, 'Patient/LI')).status).toBe(404);
      const stored = await fx.repository.read<Patient>('Patient', 'ZHANG');
      expect(stored.identifier).toEqual(expect.arrayContaining([
        expect.objectContaining({ system: wechatOpenidSystem(APP), value: 'oZHANG-openid-00000000000001' }),
        expect.objectContaining({ system: WECHAT_UNIONID_SYSTEM, value: 'uZHANG-unionid-0000000000001' }),
      ]));
    });

    it('finds the bound record by unionid for the same WeChat user signed in through another app', async () => {
      const token = await fx.issuer.issue({ role: 'patient', appid: OTHER_APP, openid: 'oZHANG-other-app-00000000001', unionid: 'uZHANG-unionid-0000000000001' });
      expect(await ids(token.access_token, 'ChargeItem')).toEqual(['BILL-ZHANG']);
    });

    it('refuses a name that does not match the record without revealing the name on file, and audits the attempt', async () => {
      const token = await wechatToken({ openid: 'oWRONG-name-0000000000000001' });
      const res = await bind(token, { name: '王五', idNumber: ID_LI });
      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body)).not.toContain('李四');
      expect((res.body as OperationOutcome).issue?.[0].expression).toEqual(["Parameters.parameter.where(name='name')"]);
      const audit = await lastOperationAudit();
      expect(audit).toMatchObject({ outcome: '4' });
      expect(JSON.stringify(audit)).toContain('422');
      expect(JSON.stringify(audit)).not.toMatch(/李四|王五/);
      expect(JSON.stringify(audit)).not.toContain(ID_LI);
      expect(await ids(token, 'Patient')).toEqual([]);
    });

    it('refuses a phone number that differs from the one on file', async () => {
      const token = await wechatToken({ openid: 'oWRONG-phone-000000000000001' });
      expect((await bind(token, { name: '张三', idNumber: ID_ZHANG, phone: '13900000000' })).status).toBe(422);
      expect(await ids(token, 'Patient')).toEqual([]);
    });

    it('answers an ID number with no record 404 and a wrong check digit 400, both audited', async () => {
      const token = await wechatToken({ openid: 'oUNKNOWN-id-0000000000000001' });
      const unknown = await bind(token, { name: '赵六', idNumber: ID_NOBODY });
      expect(unknown.status).toBe(404);
      expect((unknown.body as OperationOutcome).issue?.[0].diagnostics).toMatch(/^未找到就诊档案/);
      expect(await lastOperationAudit()).toMatchObject({ outcome: '4' });
      const wrongDigit = ID_LI.slice(0, 17) + (ID_LI[17] === '0' ? '1' : '0');
      expect((await bind(token, { name: '李四', idNumber: wrongDigit })).status).toBe(400);
      expect(JSON.stringify(await lastOperationAudit())).toContain('400');
    });

    it('refuses binding an account already bound to another patient with 409', async () => {
      const token = await wechatToken({ openid: 'oZHANG-openid-00000000000001' });
      const res = await bind(token, { name: '李四', idNumber: ID_LI });
      expect(res.status).toBe(409);
      expect((await fx.repository.read<Patient>('Patient', 'LI')).identifier).toHaveLength(1);
      expect(await ids(token, 'Patient')).toEqual(['ZHANG']);
    });

    it('refuses a second WeChat account of the same app on an already bound record with 409', async () => {
      const token = await wechatToken({ openid: 'oSOMEONE-else-00000000000001' });
      expect((await bind(token, { name: '张三', idNumber: ID_ZHANG })).status).toBe(409);
      expect(await ids(token, 'Patient')).toEqual([]);
    });

    it("refuses binding with another patient's token and with a staff token", async () => {
      const li = await fx.token('patient', 'Patient/LI');
      expect((await bind(li, { name: '张三', idNumber: ID_ZHANG })).status).toBe(403);
      const doctor = await fx.token('doctor', 'Practitioner/D1');
      expect((await bind(doctor, { name: '张三', idNumber: ID_ZHANG })).status).toBe(403);
      const stored = await fx.repository.read<Patient>('Patient', 'ZHANG');
      expect(stored.identifier?.filter((i) => i.system === wechatOpenidSystem(APP))).toHaveLength(1);
    });

    it('binds again idempotently when the account is already bound to that record', async () => {
      const token = await wechatToken({ openid: 'oZHANG-openid-00000000000001', unionid: 'uZHANG-unionid-0000000000001' });
      const before = (await fx.repository.read<Patient>('Patient', 'ZHANG')).meta?.versionId;
      expect((await bind(token, { name: '张 三', idNumber: ID_ZHANG })).status).toBe(200);
      expect((await fx.repository.read<Patient>('Patient', 'ZHANG')).meta?.versionId).toBe(before);
    });
  });
}
