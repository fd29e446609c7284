/** @jest-environment ./test/fhir-resources/rest/esm-import-environment.ts */
import type { Bundle, CapabilityStatement, Observation, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { Client } from 'fhir-kit-client';
import { ALL_DATABASES } from '../../support/databases';
import { failureOf, loadFhirKitClient } from './fhir-kit-client-loader';
import { startFhirServer, type FhirServerFixture } from './fhir-server-fixture';

/*
 * The Must-hold end-to-end suite: an off-the-shelf FHIR client (fhir-kit-client, not our own HTTP code) against a
 * real server (express on a free port, the knex store and search index, the in-process bus) on each database.
 */

const SYSTEM = 'urn:oid:2.16.156.10011.1.12';
let serial = 0;
/** fhir-kit-client types bodies as plain records. */
function body(resource: Patient): { resourceType: string; [key: string]: unknown } {
  return resource as unknown as { resourceType: string; [key: string]: unknown };
}
function patient(family: string): Patient {
  return { resourceType: 'Patient', name: [{ family, given: ['三'] }], gender: 'male', identifier: [{ system: SYSTEM, value: `mrn-${process.pid}-${++serial}` }] };
}

describe.each(ALL_DATABASES)('fhir-kit-client against the FHIR server on %s', (kind) => {
  let fx: FhirServerFixture;
  let client: Client;

  beforeAll(async () => {
    fx = await startFhirServer(kind);
    const FhirClient = await loadFhirKitClient();
    client = new FhirClient({ baseUrl: fx.baseUrl });
  });
  afterAll(async () => { await fx?.close(); });

  it('creates a Patient and reads the same resource back by id', async () => {
    const created = await client.create({ resourceType: 'Patient', body: body(patient('张')) }) as unknown as Patient;
    expect(created.id).toBeDefined();
    expect(created.meta?.versionId).toBe('1');
    const read = await client.read({ resourceType: 'Patient', id: created.id! }) as unknown as Patient;
    expect(read).toEqual(created);
  });

  it('finds a created Patient by identifier search in a searchset Bundle', async () => {
    const p = patient('李');
    const created = await client.create({ resourceType: 'Patient', body: body(p) }) as unknown as Patient;
    const bundle = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${SYSTEM}|${p.identifier![0].value}` } }) as unknown as Bundle;
    expect(bundle.type).toBe('searchset');
    expect(bundle.entry?.map((e) => [e.resource?.id, e.search?.mode])).toEqual([[created.id, 'match']]);
  });

  it('pages a search through its next link until every match was seen once', async () => {
    const family = `翻页${kind}`;
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add(((await client.create({ resourceType: 'Patient', body: body(patient(family)) })) as unknown as Patient).id!);
    const seen: string[] = [];
    let page = await client.search({ resourceType: 'Patient', searchParams: { family, _count: 2 } }) as unknown as Bundle | undefined;
    while (page) {
      seen.push(...(page.entry ?? []).map((e) => e.resource!.id!));
      page = await client.nextPage({ bundle: page as never }) as unknown as Bundle | undefined;
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('updates with the current version and answers a stale If-Match with 412', async () => {
    const v1 = await client.create({ resourceType: 'Patient', body: body(patient('王')) }) as unknown as Patient;
    const v2 = await client.update({ resourceType: 'Patient', id: v1.id!, body: body({ ...v1, gender: 'female' }), options: { headers: { 'If-Match': 'W/"1"' } } }) as unknown as Patient;
    expect(v2.meta?.versionId).toBe('2');
    const stale = await failureOf(client.update({ resourceType: 'Patient', id: v1.id!, body: body({ ...v1, gender: 'other' }), options: { headers: { 'If-Match': 'W/"1"' } } }));
    expect(stale.status).toBe(412);
    expect((stale.data as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect(((await client.read({ resourceType: 'Patient', id: v1.id! })) as unknown as Patient).gender).toBe('female');
  });

  it('commits a transaction whose Observation refers by urn:uuid to a Patient created later in the Bundle', async () => {
    const patientUrn = 'urn:uuid:7f1e2d3c-0000-4000-8000-000000000001';
    const observation: Observation = {
      resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' }, subject: { reference: patientUrn },
    };
    const response = await client.transaction({
      body: {
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:7f1e2d3c-0000-4000-8000-000000000002', resource: observation, request: { method: 'POST', url: 'Observation' } },
          { fullUrl: patientUrn, resource: patient('赵'), request: { method: 'POST', url: 'Patient' } },
        ],
      },
    }) as unknown as Bundle;
    expect(response.type).toBe('transaction-response');
    expect(response.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '201 Created']);
    const [obs, pat] = response.entry!.map((e) => e.resource!);
    expect(obs.resourceType).toBe('Observation');
    const stored = await client.read({ resourceType: 'Observation', id: obs.id! }) as unknown as Observation;
    expect(stored.subject?.reference).toBe(`Patient/${pat.id}`);
  });

  it('rolls a transaction back entirely when one of its entries is invalid', async () => {
    const family = `回滚${kind}`;
    const failure = await failureOf(client.transaction({
      body: {
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { resource: patient(family), request: { method: 'POST', url: 'Patient' } },
          { resource: { ...patient(family), gender: 'unknown-gender' as Patient['gender'] }, request: { method: 'POST', url: 'Patient' } },
        ],
      },
    }));
    expect(failure.status).toBe(400);
    expect(JSON.stringify(failure.data)).toContain('Bundle.entry[1]');
    const found = await client.search({ resourceType: 'Patient', searchParams: { family } }) as unknown as Bundle;
    expect(found.entry ?? []).toHaveLength(0);
  });

  it('lists every version in the instance history, newest first', async () => {
    const v1 = await client.create({ resourceType: 'Patient', body: body(patient('周')) }) as unknown as Patient;
    await client.update({ resourceType: 'Patient', id: v1.id!, body: body({ ...v1, active: true }) });
    await client.patch({ resourceType: 'Patient', id: v1.id!, jsonPatch: [{ op: 'replace', path: '/active', value: false }] });
    const history = await client.history({ resourceType: 'Patient', id: v1.id! }) as unknown as Bundle<Patient>;
    expect(history.type).toBe('history');
    expect(history.entry?.map((e) => [e.resource?.meta?.versionId, e.request?.method])).toEqual([['3', 'PATCH'], ['2', 'PUT'], ['1', 'POST']]);
  });

  it('answers 410 Gone when a deleted Patient is read', async () => {
    const created = await client.create({ resourceType: 'Patient', body: body(patient('吴')) }) as unknown as Patient;
    await client.delete({ resourceType: 'Patient', id: created.id! });
    const gone = await failureOf(client.read({ resourceType: 'Patient', id: created.id! }));
    expect(gone.status).toBe(410);
    expect((gone.data as OperationOutcome).issue?.[0]?.code).toBe('deleted');
  });

  it('returns the existing Patient instead of a second one on a conditional create with If-None-Exist', async () => {
    const p = patient('郑');
    const first = await client.create({ resourceType: 'Patient', body: body(p) }) as unknown as Patient;
    const ifNoneExist = `identifier=${SYSTEM}|${p.identifier![0].value}`;
    const second = await client.create({ resourceType: 'Patient', body: body(p), options: { headers: { 'If-None-Exist': ifNoneExist } } }) as unknown as Patient;
    expect(second.id).toBe(first.id);
  });

  it('runs $validate on a type and gets the validation outcome without anything being written', async () => {
    const before = await client.search({ resourceType: 'Patient', searchParams: { _summary: 'count' } }) as unknown as Bundle;
    const outcome = await client.operation({
      name: '$validate', resourceType: 'Patient',
      input: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { ...patient('钱'), gender: 'nope' } }] },
    }) as unknown as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue?.some((i) => i.severity === 'error' && i.expression?.some((e) => e.includes('gender')))).toBe(true);
    const after = await client.search({ resourceType: 'Patient', searchParams: { _summary: 'count' } }) as unknown as Bundle;
    expect(after.total).toBe(before.total);
  });

  it('reads a CapabilityStatement that lists the interactions, Patient search parameters and $validate', async () => {
    const cs = await client.capabilityStatement() as unknown as CapabilityStatement;
    const rest = cs.rest![0];
    const patientEntry = rest.resource!.find((r) => r.type === 'Patient')!;
    expect(patientEntry.interaction!.map((i) => i.code)).toEqual(expect.arrayContaining(['read', 'vread', 'update', 'patch', 'delete', 'create', 'search-type', 'history-instance']));
    expect(patientEntry.searchParam!.map((s) => s.name)).toEqual(expect.arrayContaining(['identifier', 'name', 'birthdate', '_id']));
    expect(patientEntry.operation!.map((o) => o.name)).toContain('validate');
    expect(rest.interaction!.map((i) => i.code)).toEqual(expect.arrayContaining(['transaction', 'batch']));
  });
});
