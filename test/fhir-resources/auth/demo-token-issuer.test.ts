import express from 'express';
import request from 'supertest';
import type { Knex } from 'knex';
import { decodeJwt } from 'jose';
import { loadConfig } from '../../../engine/config/config';
import { AUDIT_TABLE } from '../../../fhir-resources/audit/audit-log';
import { startSecurity, type Security } from '../../../fhir-resources/auth/security-module';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

/** The demo profile's issuer: tokens the verifier accepts, checked requests, audited issues, a rate limit. */
describe('the demo token issuer', () => {
  let database: TestDatabase;
  let db: Knex;
  let security: Security;
  let app: express.Express;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    db = database.open();
    security = await startSecurity(loadConfig({ LINGSHU_PROFILE: 'demo', LINGSHU_DB: database.url, LINGSHU_AUTH__RATE_LIMIT__MAX: '7' }), db);
    app = express();
    app.use('/auth', security.authRoutes);
    app.use('/api', security.opsGuard, (_req, res) => { res.sendStatus(200); });
  });
  afterAll(async () => {
    security?.stop();
    await db?.destroy();
    await database?.drop();
  });

  const issue = (body: object) => request(app).post('/auth/demo/token').send(body);

  it('issues a token the engine API accepts for an engineer and audits the issue', async () => {
    const { access_token } = (await issue({ role: 'engineer' })).body as { access_token: string };
    expect((await request(app).get('/api/channels').set('Authorization', `Bearer ${access_token}`)).status).toBe(200);
    expect(await db(AUDIT_TABLE).where({ subtype: 'login', outcome: '0' }).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(1);
  });

  it('refuses a doctor on the engine API', async () => {
    const { access_token } = (await issue({ role: 'doctor', subject: 'Practitioner/D1' })).body as { access_token: string };
    expect((await request(app).get('/api/channels').set('Authorization', `Bearer ${access_token}`)).status).toBe(403);
  });

  it('refuses a patient token without a Patient subject', async () => {
    expect((await issue({ role: 'patient', subject: 'someone' })).status).toBe(400);
  });

  it('issues a mini-program patient token naming the WeChat account instead of a Patient', async () => {
    const res = await issue({ role: 'patient', openid: 'oDEMO-openid-000000000000001', appid: 'wx0a1b2c3d4e5f6a7b', unionid: 'uDEMO-unionid-00000000000001' });
    expect(res.status).toBe(200);
    const claims = decodeJwt((res.body as { access_token: string }).access_token);
    expect(claims).toMatchObject({ role: 'patient', openid: 'oDEMO-openid-000000000000001', appid: 'wx0a1b2c3d4e5f6a7b', unionid: 'uDEMO-unionid-00000000000001' });
    expect(claims.fhirUser).toBeUndefined();
  });

  it('refuses a mini-program patient token without the appid of its openid', async () => {
    expect((await issue({ role: 'patient', openid: 'oDEMO-openid-000000000000001' })).status).toBe(400);
  });

  it('limits token requests per address', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await issue({ role: 'admin' })).status);
    expect(statuses.at(-1)).toBe(429);
  });
});
