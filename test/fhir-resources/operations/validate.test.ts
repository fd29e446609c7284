import request from 'supertest';
import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import { countRows, startFhirServer, type FhirServerFixture } from '../rest/fhir-server-fixture';

/* $validate (type level) on the real server: the verdict as an OperationOutcome, nothing written. */

describe('$validate', () => {
  let fx: FhirServerFixture;
  beforeAll(async () => { fx = await startFhirServer('sqlite'); });
  afterAll(async () => { await fx?.close(); });

  const json = <T>(res: request.Response): T => JSON.parse(res.text) as T;
  const validate = (type: string, body: unknown) =>
    request(fx.app).post(`/fhir/${type}/$validate`).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
  const params = (resource: unknown, mode?: string) => ({
    resourceType: 'Parameters',
    parameter: [{ name: 'resource', resource }, ...(mode ? [{ name: 'mode', valueCode: mode }] : [])],
  });

  it('answers a valid resource with 200 and an informational outcome', async () => {
    const res = await validate('Patient', params({ resourceType: 'Patient', name: [{ family: '张' }], gender: 'male' }));
    expect(res.status).toBe(200);
    expect(json<OperationOutcome>(res).issue?.every((i) => i.severity === 'information')).toBe(true);
  });

  it('answers an invalid code with 200 and an error issue naming the element, and writes nothing', async () => {
    const before = await countRows(fx.db, 'fhir_resources');
    const res = await validate('Patient', params({ resourceType: 'Patient', gender: 'M' }));
    expect(res.status).toBe(200);
    const errors = json<OperationOutcome>(res).issue?.filter((i) => i.severity === 'error') ?? [];
    expect(errors.some((i) => i.expression?.some((e) => e.includes('gender')))).toBe(true);
    expect(await countRows(fx.db, 'fhir_resources')).toBe(before);
  });

  it('accepts the resource posted directly as the body', async () => {
    const res = await validate('Patient', { resourceType: 'Patient', gender: 'M' });
    expect(res.status).toBe(200);
    expect(json<OperationOutcome>(res).issue?.some((i) => i.severity === 'error')).toBe(true);
  });

  it('refuses mode delete, which needs an instance, with 400', async () => {
    const res = await validate('Patient', params({ resourceType: 'Patient' }, 'delete'));
    expect(res.status).toBe(400);
    expect(json<OperationOutcome>(res).issue?.[0].expression).toEqual(['Parameters.parameter[mode]']);
  });

  it('refuses a resource of another type than the URL names with 400', async () => {
    const res = await validate('Observation', params({ resourceType: 'Patient' } as Patient));
    expect(res.status).toBe(400);
    expect(json<OperationOutcome>(res).issue?.[0].expression).toEqual(['Parameters.parameter[resource]']);
  });

  it('answers a call without the resource parameter with 400', async () => {
    const res = await validate('Patient', { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'create' }] });
    expect(res.status).toBe(400);
    expect(json<OperationOutcome>(res).issue?.[0].expression).toEqual(['Parameters.parameter[resource]']);
  });
});
