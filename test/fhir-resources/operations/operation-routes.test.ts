import request from 'supertest';
import { badRequest, OperationOutcomeError, Operator } from '@medplum/core';
import type { CapabilityStatement, OperationDefinition, OperationOutcome, Parameters, Patient } from '@medplum/fhirtypes';
import {
  boolean, code, integer, many, operation, optional, parts, ref, refs, resource, string,
} from '../../../fhir-resources/operations/operation';
import { validateOperation } from '../../../fhir-resources/operations/validate';
import { countRows, startFhirServer, type FhirServerFixture } from '../rest/fhir-server-fixture';

/*
 * Operations declared through the framework, invoked over HTTP against the real store (SQLite): routing per level,
 * Parameters validation, GET for read-only operations, one transaction per call.
 */

const registerPatients = operation({
  name: 'register-patients',
  level: 'system',
  parameters: { patient: many(resource<Patient>('Patient'), { min: 1 }), failAfterWrites: optional(boolean()) },
  output: { registered: refs('Patient'), count: integer() },
  async run(repo, { patient, failAfterWrites }) {
    const registered = [];
    for (const p of patient) {
      const { resource: stored } = await repo.create(p);
      registered.push({ reference: `Patient/${stored.id}` });
    }
    if (failAfterWrites) throw new OperationOutcomeError(badRequest('Refused after writing, to prove the rollback', 'Parameters.parameter[failAfterWrites]'));
    return { registered, count: registered.length };
  },
});

const countByGender = operation({
  name: 'count-by-gender',
  level: 'type',
  resourceType: 'Patient',
  affectsState: false,
  parameters: { gender: code() },
  output: { count: integer() },
  async run(repo, { gender }) {
    const result = await repo.search({ resourceType: 'Patient', filters: [{ code: 'gender', operator: Operator.EQUALS, value: gender }], count: 1000 });
    return { count: result.resources.length };
  },
});

const card = operation({
  name: 'card',
  level: 'instance',
  resourceType: 'Patient',
  affectsState: false,
  parameters: { issuer: optional(ref('Organization')) },
  output: { card: parts({ patientId: string(), family: optional(string()), issuer: optional(string()) }) },
  async run(repo, { issuer }, context) {
    const p = await repo.read<Patient>('Patient', context.id!);
    return { card: { patientId: p.id!, family: p.name?.[0]?.family, issuer: issuer?.reference } };
  },
});

describe('operations over HTTP', () => {
  let fx: FhirServerFixture;
  beforeAll(async () => { fx = await startFhirServer('sqlite', [validateOperation, registerPatients, countByGender, card]); });
  afterAll(async () => { await fx?.close(); });

  const json = <T>(res: request.Response): T => JSON.parse(res.text) as T;
  const post = (path: string, body: unknown) => request(fx.app).post(path).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
  const patientParam = (family: string, gender: Patient['gender'] = 'female') =>
    ({ name: 'patient', resource: { resourceType: 'Patient', name: [{ family }], gender } });

  it('runs a system-level operation and answers with its output Parameters', async () => {
    const res = await post('/fhir/$register-patients', { resourceType: 'Parameters', parameter: [patientParam('林'), patientParam('黄')] });
    expect(res.status).toBe(200);
    const out = json<Parameters>(res);
    expect(out.parameter?.map((p) => p.name)).toEqual(['registered', 'registered', 'count']);
    expect(out.parameter?.[2].valueInteger).toBe(2);
    const id = out.parameter![0].valueReference!.reference!.split('/')[1];
    expect(json<Patient>(await request(fx.app).get(`/fhir/Patient/${id}`)).name?.[0].family).toBe('林');
  });

  it('rolls back every write of an operation that fails after writing', async () => {
    const resourcesBefore = await countRows(fx.db, 'fhir_resources');
    const eventsBefore = await countRows(fx.db, 'fhir_outbox');
    const res = await post('/fhir/$register-patients', {
      resourceType: 'Parameters', parameter: [patientParam('梁'), patientParam('宋'), { name: 'failAfterWrites', valueBoolean: true }],
    });
    expect(res.status).toBe(400);
    expect(json<OperationOutcome>(res).issue?.[0].expression).toEqual(['Parameters.parameter[failAfterWrites]']);
    expect(await countRows(fx.db, 'fhir_resources')).toBe(resourcesBefore);
    expect(await countRows(fx.db, 'fhir_outbox')).toBe(eventsBefore);
  });

  it('answers a missing required parameter with 400 and the expression Parameters.parameter[name]', async () => {
    const res = await post('/fhir/$register-patients', { resourceType: 'Parameters', parameter: [] });
    expect(res.status).toBe(400);
    expect(json<OperationOutcome>(res).issue).toEqual([expect.objectContaining({ severity: 'error', expression: ['Parameters.parameter[patient]'] })]);
  });

  it('answers a body that is neither Parameters nor the sole resource input with 400', async () => {
    const res = await post('/fhir/Patient/$count-by-gender', { resourceType: 'Patient' });
    expect(res.status).toBe(400);
  });

  it('accepts GET with query parameters for an operation that does not change data', async () => {
    await post('/fhir/$register-patients', { resourceType: 'Parameters', parameter: [patientParam('罗', 'other')] });
    const res = await request(fx.app).get('/fhir/Patient/$count-by-gender?gender=other');
    expect(res.status).toBe(200);
    expect(json<Parameters>(res).parameter).toEqual([{ name: 'count', valueInteger: 1 }]);
  });

  it('answers GET of an operation that changes data with 405', async () => {
    const res = await request(fx.app).get('/fhir/$register-patients');
    expect(res.status).toBe(405);
    expect(json<OperationOutcome>(res).resourceType).toBe('OperationOutcome');
  });

  it('passes the instance id to an instance-level operation and answers its parts', async () => {
    const created = json<Patient>(await post('/fhir/Patient', { resourceType: 'Patient', name: [{ family: '高' }] }));
    const res = await request(fx.app).get(`/fhir/Patient/${created.id}/$card?issuer=Organization/h1`);
    expect(res.status).toBe(200);
    expect(json<Parameters>(res).parameter).toEqual([{
      name: 'card',
      part: [{ name: 'patientId', valueString: created.id }, { name: 'family', valueString: '高' }, { name: 'issuer', valueString: 'Organization/h1' }],
    }]);
  });

  it('answers a GET reference parameter of the wrong target type with 400', async () => {
    const created = json<Patient>(await post('/fhir/Patient', { resourceType: 'Patient' }));
    const res = await request(fx.app).get(`/fhir/Patient/${created.id}/$card?issuer=Practitioner/1`);
    expect(res.status).toBe(400);
    expect(json<OperationOutcome>(res).issue?.[0].expression).toEqual(['Parameters.parameter[issuer]']);
  });

  it('answers an operation called at a level or on a type it is not declared for with 404', async () => {
    expect((await post('/fhir/Patient/$register-patients', { resourceType: 'Parameters' })).status).toBe(404);
    expect((await request(fx.app).get('/fhir/Observation/$count-by-gender?gender=male')).status).toBe(404);
    expect((await post('/fhir/$no-such-operation', { resourceType: 'Parameters' })).status).toBe(404);
  });

  it('serves the OperationDefinition of a declared operation', async () => {
    const def = json<OperationDefinition>(await request(fx.app).get('/fhir/OperationDefinition/register-patients'));
    expect(def).toMatchObject({ resourceType: 'OperationDefinition', code: 'register-patients', system: true, type: false, instance: false, affectsState: true, kind: 'operation' });
    expect(def.parameter?.map((p) => [p.name, p.use, p.min, p.max, p.type])).toEqual([
      ['patient', 'in', 1, '*', 'Patient'], ['failAfterWrites', 'in', 0, '1', 'boolean'],
      ['registered', 'out', 0, '*', 'Reference'], ['count', 'out', 1, '1', 'integer'],
    ]);
    expect(def.parameter?.[2].targetProfile).toEqual(['http://hl7.org/fhir/StructureDefinition/Patient']);
  });

  it('lists system operations on the server and type operations on their resource in the CapabilityStatement', async () => {
    const cs = json<CapabilityStatement>(await request(fx.app).get('/fhir/metadata'));
    const rest = cs.rest![0];
    expect(rest.operation?.map((o) => o.name)).toEqual(['register-patients']);
    expect(rest.resource?.find((r) => r.type === 'Patient')?.operation?.map((o) => o.name)).toEqual(['validate', 'count-by-gender', 'card']);
    expect(rest.resource?.find((r) => r.type === 'Observation')?.operation?.map((o) => o.name)).toEqual(['validate']);
  });
});
