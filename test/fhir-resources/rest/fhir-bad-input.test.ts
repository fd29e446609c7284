import request from 'supertest';
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../../../fhir-resources/store/repository';
import { fhirRouter } from '../../../fhir-resources/rest/fhir-router';
import express from 'express';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../engine/logger';
import { countRows, startFhirServer, type FhirServerFixture } from './fhir-server-fixture';

/*
 * The Must-hold bad-input cases: each gets a clear OperationOutcome, the right HTTP status, and nothing written
 * (counted in fhir_resources and fhir_outbox of the real store).
 */

const FHIR = 'application/fhir+json';

describe('FHIR REST bad input', () => {
  let fx: FhirServerFixture;
  beforeAll(async () => { fx = await startFhirServer('sqlite'); });
  afterAll(async () => { await fx?.close(); });

  async function written(): Promise<number> {
    return (await countRows(fx.db, 'fhir_resources')) + (await countRows(fx.db, 'fhir_outbox'));
  }

  function outcome(res: request.Response): OperationOutcome {
    const body = JSON.parse(res.text) as OperationOutcome;
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue?.[0]?.severity).toBe('error');
    return body;
  }

  it('answers malformed JSON with 400 and writes nothing', async () => {
    const before = await written();
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send('{"resourceType": "Patient", "name": [');
    expect(res.status).toBe(400);
    expect(outcome(res).issue![0].diagnostics).toMatch(/not valid JSON/);
    expect(await written()).toBe(before);
  });

  it('answers a body whose resourceType differs from the URL with 400 and writes nothing', async () => {
    const before = await written();
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send(JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' } }));
    expect(res.status).toBe(400);
    expect(outcome(res).issue![0].diagnostics).toMatch(/Observation.*Patient/);
    expect(await written()).toBe(before);
  });

  it('answers an unknown resource type in the URL with 404', async () => {
    const res = await request(fx.app).get('/fhir/Patients/1');
    expect(res.status).toBe(404);
    expect(outcome(res).issue![0].diagnostics).toMatch(/Patients/);
  });

  it('answers a PUT whose body id differs from the URL id with 400 and writes nothing', async () => {
    const before = await written();
    const res = await request(fx.app).put('/fhir/Patient/a1').set('Content-Type', FHIR).send(JSON.stringify({ resourceType: 'Patient', id: 'b2' }));
    expect(res.status).toBe(400);
    expect(outcome(res).issue![0].expression).toEqual(['Patient.id']);
    expect(await written()).toBe(before);
  });

  it('answers an unknown search parameter under Prefer: handling=strict with 400', async () => {
    const res = await request(fx.app).get('/fhir/Patient?no-such-param=1').set('Prefer', 'handling=strict');
    expect(res.status).toBe(400);
    expect(JSON.stringify(outcome(res))).toContain('no-such-param');
  });

  it('ignores an unknown search parameter by default and reports it in an outcome entry of the Bundle', async () => {
    const res = await request(fx.app).get('/fhir/Patient?no-such-param=1');
    expect(res.status).toBe(200);
    const bundle = JSON.parse(res.text) as Bundle;
    const reported = bundle.entry?.filter((e) => e.search?.mode === 'outcome') ?? [];
    expect(reported).toHaveLength(1);
    expect(reported[0].resource?.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(reported[0].resource)).toContain('no-such-param');
  });

  it('answers a _count that is not a whole number with 400', async () => {
    const res = await request(fx.app).get('/fhir/Patient?_count=abc');
    expect(res.status).toBe(400);
    expect(outcome(res).issue![0].expression).toEqual(['_count']);
  });

  it('refuses a body over 10 MB with 413 and writes nothing', async () => {
    const before = await written();
    const big = JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(10 * 1024 * 1024)}</div>` } });
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send(big);
    expect(res.status).toBe(413);
    expect(outcome(res).issue![0].diagnostics).toMatch(/10 MB/);
    expect(await written()).toBe(before);
  });

  it('refuses JSON nested deeper than any resource with 400 and writes nothing', async () => {
    const before = await written();
    const deep = `{"resourceType":"Patient","extension":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send(deep);
    expect(res.status).toBe(400);
    expect(outcome(res).issue![0].diagnostics).toMatch(/nested deeper/);
    expect(await written()).toBe(before);
  });

  it('answers an invalid code with 400 naming the field and writes nothing', async () => {
    const before = await written();
    const res = await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send(JSON.stringify({ resourceType: 'Patient', gender: 'M' }));
    expect(res.status).toBe(400);
    expect(outcome(res).issue!.some((i) => i.expression?.some((e) => e.includes('gender')))).toBe(true);
    expect(await written()).toBe(before);
  });

  it('answers a JSON Patch sent as application/fhir+json with 415', async () => {
    const created = JSON.parse((await request(fx.app).post('/fhir/Patient').set('Content-Type', FHIR).send('{"resourceType":"Patient"}')).text) as Patient;
    const res = await request(fx.app).patch(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR).send(JSON.stringify([{ op: 'add', path: '/active', value: true }]));
    expect(res.status).toBe(415);
    outcome(res);
  });

  it('answers a method the path does not support with 405', async () => {
    const res = await request(fx.app).delete('/fhir/metadata');
    expect(res.status).toBe(405);
    outcome(res);
  });

  it('answers an unexpected failure with 500 and an outcome that gives away no message, and logs it under the correlation id', async () => {
    // The real repository, with read made to fail the way a driver bug would.
    const failing: Repository = Object.create(fx.repository);
    failing.withContext = () => failing;
    failing.read = async () => { throw new Error('secret detail at /work/main/fhir-resources/store/knex-repository.ts:80'); };
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const app = express().use('/fhir', fhirRouter({ repository: failing, logger: createLogger({ stream, level: 'info' }) }));
    const res = await request(app).get('/fhir/Patient/x').set('X-Correlation-Id', 'corr-500');
    expect(res.status).toBe(500);
    expect(res.text).not.toMatch(/secret|knex-repository|\.ts:/);
    expect(outcome(res).issue![0].code).toBe('exception');
    expect(res.headers['x-correlation-id']).toBe('corr-500');
    const logged = lines.map((l) => JSON.parse(l) as { level: string; correlationId?: string; error?: { message: string } });
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', correlationId: 'corr-500' }));
  });
});
