import request from 'supertest';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { FieldCipher } from '../../../fhir-resources/privacy/field-cipher';
import { ALL_DATABASES } from '../../support/databases';
import { startSecureFhir, type SecureFhirFixture } from '../auth/secure-fhir-fixture';

/*
 * ID numbers, phones and address lines are encrypted in every column that holds content (current and history), the
 * index holds keyed digests instead of them, search by ID number still finds the patient, an authorized read gets
 * them back in clear, and list views mask them.
 */
const ID_NUMBER = '450102199003071234';
const PHONE = '13812340000';
const LINE = '青秀区民族大道166号3栋502室';
const ID_SYSTEM = 'urn:oid:2.16.156.10011.1.1';

const patient: Patient = {
  resourceType: 'Patient',
  id: 'PX',
  name: [{ family: '韦', given: ['小红'] }],
  identifier: [{ system: ID_SYSTEM, value: ID_NUMBER }],
  telecom: [{ system: 'phone', value: PHONE }],
  address: [{ line: [LINE], city: '南宁市', district: '青秀区' }],
};

const cases = ALL_DATABASES.flatMap((db) => (['aes-256-gcm', 'sm4'] as const).map((cipher) => [db, cipher] as const));

describe.each(cases)('field encryption on %s with %s', (kind, cipher) => {
  let fx: SecureFhirFixture;
  let admin: string;
  beforeAll(async () => {
    fx = await startSecureFhir(kind, cipher);
    admin = await fx.token('admin');
    const res = await request(fx.app).put('/fhir/Patient/PX').set('Authorization', `Bearer ${admin}`)
      .set('Content-Type', 'application/fhir+json').send(JSON.stringify(patient));
    expect(res.status).toBe(201);
    await fx.repository.update({ resourceType: 'Encounter', id: 'EX', status: 'finished', class: { code: 'VR' }, subject: { reference: 'Patient/PX' }, participant: [{ individual: { reference: 'Practitioner/DX' } }] });
  });
  afterAll(async () => { await fx?.close(); });

  it('leaves no plaintext ID number, phone or address line in any table', async () => {
    const dump = JSON.stringify([
      await fx.db('fhir_resources').select('content'), await fx.db('fhir_history').select('content'),
      ...(await Promise.all(['token', 'string', 'reference', 'uri'].map((t) => fx.db(`fhir_idx_${t}`).select('*')))),
    ]);
    expect(dump).toContain('韦');
    // Whole values and a masked tail: a bare '1234' also turns up by chance in the hex of the keyed hashes.
    for (const secret of [ID_NUMBER, PHONE, LINE, '民族大道', '*1234']) expect(dump).not.toContain(secret);
    expect(FieldCipher.isEncrypted(JSON.parse((await fx.db('fhir_resources').where({ id: 'PX' }).first()).content).identifier[0].value)).toBe(true);
  });

  it('finds the patient by ID number, by phone, and with the system', async () => {
    for (const q of [`identifier=${ID_SYSTEM}|${ID_NUMBER}`, `identifier=${ID_NUMBER}`, `phone=${PHONE}`]) {
      const res = await request(fx.app).get(`/fhir/Patient?${q}`).set('Authorization', `Bearer ${admin}`);
      expect([q, (res.body as Bundle).entry?.map((e) => e.resource?.id)]).toEqual([q, ['PX']]);
    }
    const none = await request(fx.app).get(`/fhir/Patient?identifier=${ID_NUMBER.slice(0, -1)}0`).set('Authorization', `Bearer ${admin}`);
    expect((none.body as Bundle).entry ?? []).toEqual([]);
  });

  it('gives the values back in clear to an authorized read', async () => {
    const res = await request(fx.app).get('/fhir/Patient/PX').set('Authorization', `Bearer ${await fx.token('patient', 'Patient/PX')}`);
    const p = res.body as Patient;
    expect([p.identifier?.[0].value, p.telecom?.[0].value, p.address?.[0].line?.[0]]).toEqual([ID_NUMBER, PHONE, LINE]);
  });

  it('masks them in a doctor\'s list view and everywhere for operators', async () => {
    const list = await request(fx.app).get(`/fhir/Patient?identifier=${ID_NUMBER}`).set('Authorization', `Bearer ${await fx.token('doctor', 'Practitioner/DX')}`);
    const listed = (list.body as Bundle<Patient>).entry?.[0].resource;
    expect([listed?.identifier?.[0].value, listed?.telecom?.[0].value]).toEqual(['4501**********1234', '138****0000']);
    const read = await request(fx.app).get('/fhir/Patient/PX').set('Authorization', `Bearer ${await fx.token('operator')}`);
    expect((read.body as Patient).identifier?.[0].value).toBe('4501**********1234');
    expect((read.body as Patient).address?.[0].line?.[0]).not.toContain('166号');
  });
});
