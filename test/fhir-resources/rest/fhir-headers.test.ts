import request from 'supertest';
import type { Patient } from '@medplum/fhirtypes';
import { startFhirServer, type FhirServerFixture } from './fhir-server-fixture';

/* HTTP header behaviour of the FHIR router on the real store (SQLite). */

const FHIR = 'application/fhir+json';
const patient = (family: string): Patient => ({ resourceType: 'Patient', name: [{ family }] });

describe('FHIR REST headers', () => {
  let fx: FhirServerFixture;
  beforeAll(async () => { fx = await startFhirServer('sqlite'); });
  afterAll(async () => { await fx?.close(); });

  async function create(family: string): Promise<Patient> {
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send(JSON.stringify(patient(family)));
    expect(res.status).toBe(201);
    return JSON.parse(res.text) as Patient;
  }

  it('answers a create with 201, the Location of version 1, a weak ETag and Last-Modified', async () => {
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send(JSON.stringify(patient('张')));
    const body = JSON.parse(res.text) as Patient;
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.headers.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/fhir/Patient/${body.id}/_history/1$`));
    expect(res.headers.etag).toBe('W/"1"');
    expect(new Date(res.headers['last-modified']).getTime()).toBe(Math.floor(Date.parse(body.meta!.lastUpdated!) / 1000) * 1000);
  });

  it('accepts a body sent as application/json', async () => {
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', 'application/json').send(JSON.stringify(patient('李')));
    expect(res.status).toBe(201);
  });

  it('refuses a resource sent as application/xml with 415 and an OperationOutcome', async () => {
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', 'application/xml').send('<Patient xmlns="http://hl7.org/fhir"/>');
    expect(res.status).toBe(415);
    expect(JSON.parse(res.text).resourceType).toBe('OperationOutcome');
  });

  it('answers a read whose If-None-Match names the current version with 304 and no body', async () => {
    const p = await create('王');
    const res = await request(fx.app).get(`/fhir/Patient/${p.id}`).set('If-None-Match', 'W/"1"');
    expect(res.status).toBe(304);
    expect(res.text ?? '').toBe('');
  });

  it('answers a read with If-None-Match: * on an existing resource with 304', async () => {
    const p = await create('赵');
    expect((await request(fx.app).get(`/fhir/Patient/${p.id}`).set('If-None-Match', '*')).status).toBe(304);
  });

  it('answers a read whose If-None-Match names an older version with 200 and the resource', async () => {
    const p = await create('钱');
    await request(fx.app).put(`/fhir/Patient/${p.id}`).set('Content-Type', FHIR).send(JSON.stringify({ ...p, active: true }));
    const res = await request(fx.app).get(`/fhir/Patient/${p.id}`).set('If-None-Match', 'W/"1"');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(JSON.parse(res.text).active).toBe(true);
  });

  it('answers an update whose If-Match names an old version with 412 and keeps the stored version', async () => {
    const p = await create('孙');
    await request(fx.app).put(`/fhir/Patient/${p.id}`).set('Content-Type', FHIR).send(JSON.stringify({ ...p, active: true }));
    const res = await request(fx.app).put(`/fhir/Patient/${p.id}`).set('Content-Type', FHIR).set('If-Match', 'W/"1"').send(JSON.stringify({ ...p, active: false }));
    expect(res.status).toBe(412);
    expect(JSON.parse(res.text).resourceType).toBe('OperationOutcome');
    expect((await request(fx.app).get(`/fhir/Patient/${p.id}`)).headers.etag).toBe('W/"2"');
  });

  it('deletes under If-Match only when it names the current version', async () => {
    const p = await create('周');
    const stale = await request(fx.app).delete(`/fhir/Patient/${p.id}`).set('If-Match', 'W/"7"');
    expect(stale.status).toBe(412);
    expect((await request(fx.app).get(`/fhir/Patient/${p.id}`)).status).toBe(200);
    expect((await request(fx.app).delete(`/fhir/Patient/${p.id}`).set('If-Match', 'W/"1"')).status).toBe(200);
    expect((await request(fx.app).get(`/fhir/Patient/${p.id}`)).status).toBe(410);
  });

  it('answers Prefer: return=minimal with an empty body and the headers', async () => {
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).set('Prefer', 'return=minimal').send(JSON.stringify(patient('吴')));
    expect(res.status).toBe(201);
    expect(res.text ?? '').toBe('');
    expect(res.headers.location).toMatch(/\/fhir\/Patient\/[^/]+\/_history\/1$/);
  });

  it('answers Prefer: return=OperationOutcome with an OperationOutcome instead of the resource', async () => {
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).set('Prefer', 'return=OperationOutcome').send(JSON.stringify(patient('郑')));
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text).resourceType).toBe('OperationOutcome');
  });

  it('echoes the client\'s X-Correlation-Id', async () => {
    const res = await request(fx.app).get('/fhir/metadata').set('X-Correlation-Id', 'his-msg-20240501-0001');
    expect(res.headers['x-correlation-id']).toBe('his-msg-20240501-0001');
  });

  it('makes up a correlation id when the client sends none', async () => {
    const res = await request(fx.app).get('/fhir/Patient/none-such');
    expect(res.status).toBe(404);
    expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records the correlation id on the outbox event of a write', async () => {
    await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).set('X-Correlation-Id', 'corr-outbox-1').send(JSON.stringify(patient('冯')));
    const row = await fx.db('fhir_outbox').where({ correlation_id: 'corr-outbox-1' }).first();
    expect(row?.action).toBe('create');
  });
});
