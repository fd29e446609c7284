import request from 'supertest';
import { generateKeyPair, SignJWT } from 'jose';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { DEMO_ISSUER } from '../../../fhir-resources/auth/demo-token-issuer';
import { AUDIT_TABLE } from '../../../fhir-resources/audit/audit-log';
import { ALL_DATABASES } from '../../support/databases';
import { AUDIENCE, startSecureFhir, type SecureFhirFixture } from './secure-fhir-fixture';

/*
 * Tokens that must not open the store: each is answered 401 with an OperationOutcome and a WWW-Authenticate
 * challenge, and leaves a refused-token AuditEvent.
 */
describe.each(ALL_DATABASES)('refused bearer tokens on %s', (kind) => {
  let fx: SecureFhirFixture;
  beforeAll(async () => { fx = await startSecureFhir(kind); });
  afterAll(async () => { await fx?.close(); });

  // The issuer's own key, to sign tokens it would never issue (expired, wrong audience).
  const demoSigned = (claims: Record<string, unknown>) =>
    new SignJWT({ role: 'admin', ...claims }).setProtectedHeader({ alg: 'ES256' }).setIssuer(DEMO_ISSUER).setSubject('admin-1');

  const tokens: Record<string, () => Promise<string | undefined>> = {
    missing: async () => undefined,
    expired: async () => demoSigned({}).setAudience(AUDIENCE).setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(fx.issuer['privateKey' as never]),
    'wrongly signed': async () => {
      const other = await generateKeyPair('ES256');
      return demoSigned({}).setAudience(AUDIENCE).setExpirationTime('1h').sign(other.privateKey);
    },
    'for another audience': async () => demoSigned({}).setAudience('some-other-api').setExpirationTime('1h').sign(fx.issuer['privateKey' as never]),
    'not a JWT': async () => 'not-a-token',
  };

  it.each(Object.keys(tokens))('a %s token is refused with 401 and audited', async (name) => {
    const token = await tokens[name]();
    const before = Number((await fx.db(AUDIT_TABLE).where({ subtype: 'token-refused' }).count({ n: '*' }))[0].n);
    const req = request(fx.app).get('/fhir/Patient');
    const res = await (token ? req.set('Authorization', `Bearer ${token}`) : req);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect((res.body as OperationOutcome).issue?.[0].code).toBe('login');
    const rows = await fx.db(AUDIT_TABLE).where({ subtype: 'token-refused' }).orderBy('seq');
    expect(rows.length).toBe(before + 1);
    expect(rows[rows.length - 1]).toMatchObject({ outcome: '4', agent: 'anonymous' });
  });

  it('a valid token from the issuer opens the store', async () => {
    const res = await request(fx.app).get('/fhir/Patient').set('Authorization', `Bearer ${await fx.token('admin')}`);
    expect(res.status).toBe(200);
  });

  it('terminology is public to read without a token, and nothing else is', async () => {
    expect((await request(fx.app).get('/fhir/CodeSystem')).status).toBe(200);
    expect((await request(fx.app).get('/fhir/metadata')).status).toBe(200);
    expect((await request(fx.app).get('/fhir/CodeSystem?_revinclude=Observation:subject')).status).toBe(200);
    expect((await request(fx.app).post('/fhir/CodeSystem').set('Content-Type', 'application/fhir+json').send('{"resourceType":"CodeSystem","status":"draft","content":"complete"}')).status).toBe(401);
  });
});
