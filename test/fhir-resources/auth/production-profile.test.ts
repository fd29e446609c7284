import express from 'express';
import request from 'supertest';
import { loadConfig } from '../../../engine/config/config';
import { startSecurity, type Security } from '../../../fhir-resources/auth/security-module';
import { createTestDatabase, type TestDatabase } from '../../support/databases';
import type { Knex } from 'knex';

/*
 * The production profile without an identity provider: patient data is not served (503 naming the missing setting),
 * public terminology still is, there is no demo issuer, and the engine API answers loopback callers only.
 */
describe('the production profile without an identity provider', () => {
  let database: TestDatabase;
  let db: Knex;
  let security: Security;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    db = database.open();
    security = await startSecurity(loadConfig({ LINGSHU_PROFILE: 'production', LINGSHU_DB: database.url }), db);
  });
  afterAll(async () => {
    security?.stop();
    await db?.destroy();
    await database?.drop();
  });

  const app = () => {
    const a = express();
    a.use('/auth', security.authRoutes);
    a.get('/fhir/*path', async (req, res) => {
      try {
        await security.fhir.authenticate(req, 'GET', req.path.slice('/fhir/'.length), { correlationId: 't' });
        res.sendStatus(200);
      } catch (err) {
        res.sendStatus(503);
        expect((err as { outcome: { issue: Array<{ diagnostics: string }> } }).outcome.issue[0].diagnostics).toContain('auth.issuer');
      }
    });
    a.use('/api', security.opsGuard, (_req, res) => { res.sendStatus(200); });
    return a;
  };

  it('answers 503 for patient data and names the missing setting', async () => {
    expect((await request(app()).get('/fhir/Patient')).status).toBe(503);
  });

  it('still serves public terminology', async () => {
    expect((await request(app()).get('/fhir/CodeSystem')).status).toBe(200);
  });

  it('has no demo token issuer', async () => {
    expect((await request(app()).post('/auth/demo/token').send({ role: 'admin' })).status).toBe(404);
  });

  it('answers the engine API on loopback only', async () => {
    expect((await request(app()).get('/api/channels')).status).toBe(200);
    const remote = express();
    remote.set('trust proxy', true);
    remote.use('/api', security.opsGuard, (_req, res) => { res.sendStatus(200); });
    expect((await request(remote).get('/api/channels').set('X-Forwarded-For', '203.0.113.7')).status).toBe(503);
  });
});
