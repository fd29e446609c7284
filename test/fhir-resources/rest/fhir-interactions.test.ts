import request from 'supertest';
import type { Binary, Bundle, Observation, OperationDefinition, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { countRows, startFhirServer, type FhirServerFixture } from './fhir-server-fixture';

/* Interactions the fhir-kit-client suite does not reach, over HTTP against the real store (SQLite). */

const FHIR = 'application/fhir+json';
const SYSTEM = 'urn:oid:2.16.156.10011.1.12';
let serial = 0;
const patient = (family: string, mrn = `m-${process.pid}-${++serial}`): Patient =>
  ({ resourceType: 'Patient', name: [{ family }], identifier: [{ system: SYSTEM, value: mrn }] });

describe('FHIR REST interactions', () => {
  let fx: FhirServerFixture;
  beforeAll(async () => { fx = await startFhirServer('sqlite'); });
  afterAll(async () => { await fx?.close(); });

  const json = <T>(res: request.Response): T => JSON.parse(res.text) as T;
  const post = (path: string, body: unknown) => request(fx.app).post(path).set('Content-Type', FHIR).send(JSON.stringify(body));
  const put = (path: string, body: unknown) => request(fx.app).put(path).set('Content-Type', FHIR).send(JSON.stringify(body));

  it('creates a resource with the client id on PUT to an id that does not exist yet', async () => {
    const res = await put('/fhir/Patient/his-000123', { ...patient('陈'), id: 'his-000123' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/\/fhir\/Patient\/his-000123\/_history\/1$/);
    expect((await request(fx.app).get('/fhir/Patient/his-000123')).status).toBe(200);
  });

  it('reads an earlier version with vread after an update', async () => {
    const v1 = json<Patient>(await post('/fhir/Patient', patient('褚')));
    await put(`/fhir/Patient/${v1.id}`, { ...v1, active: true });
    const res = await request(fx.app).get(`/fhir/Patient/${v1.id}/_history/1`);
    expect(res.status).toBe(200);
    expect(json<Patient>(res).active).toBeUndefined();
    expect(res.headers.etag).toBe('W/"1"');
  });

  it('creates on a conditional update that matches nothing and updates the one match the next time', async () => {
    const p = patient('卫');
    const query = `/fhir/Patient?identifier=${encodeURIComponent(`${SYSTEM}|${p.identifier![0].value}`)}`;
    const first = await put(query, p);
    expect(first.status).toBe(201);
    const second = await put(query, { ...p, active: true });
    expect(second.status).toBe(200);
    expect(json<Patient>(second).id).toBe(json<Patient>(first).id);
    expect(json<Patient>(second).meta?.versionId).toBe('2');
  });

  it('patches with a JSON Patch and answers with the new version', async () => {
    const p = json<Patient>(await post('/fhir/Patient', patient('蒋')));
    const res = await request(fx.app).patch(`/fhir/Patient/${p.id}`).set('Content-Type', 'application/json-patch+json')
      .set('If-Match', 'W/"1"').send(JSON.stringify([{ op: 'add', path: '/gender', value: 'female' }]));
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(json<Patient>(res).gender).toBe('female');
  });

  it('searches with POST _search form fields like the same GET search', async () => {
    const p = patient('沈');
    const created = json<Patient>(await post('/fhir/Patient', p));
    const res = await request(fx.app).post('/fhir/Patient/_search').type('form').send({ identifier: `${SYSTEM}|${p.identifier![0].value}` });
    expect(res.status).toBe(200);
    const bundle = json<Bundle>(res);
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
    expect(bundle.link?.find((l) => l.relation === 'self')?.url).toContain('identifier=');
  });

  it('puts _include results in the searchset with search mode include', async () => {
    const p = json<Patient>(await post('/fhir/Patient', patient('韩')));
    const o = json<Observation>(await post('/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: '体温' }, subject: { reference: `Patient/${p.id}` } }));
    const res = await request(fx.app).get(`/fhir/Observation?_id=${o.id}&_include=Observation:subject`);
    const bundle = json<Bundle>(res);
    expect(bundle.entry?.map((e) => [e.resource?.resourceType, e.search?.mode])).toEqual([['Observation', 'match'], ['Patient', 'include']]);
  });

  it('gives the total when _total=accurate asks for it', async () => {
    const family = `总数${process.pid}`;
    await post('/fhir/Patient', patient(family));
    await post('/fhir/Patient', patient(family));
    const bundle = json<Bundle>(await request(fx.app).get(`/fhir/Patient?family=${encodeURIComponent(family)}&_total=accurate&_count=1`));
    expect(bundle.total).toBe(2);
    expect(bundle.entry).toHaveLength(1);
    expect(bundle.link?.find((l) => l.relation === 'next')?.url).toContain('_cursor=');
  });

  it('keeps the client\'s own search parameters in the next link and only adds _cursor', async () => {
    const family = `链接${process.pid}`;
    await post('/fhir/Patient', patient(family));
    await post('/fhir/Patient', patient(family));
    const first = json<Bundle<Patient>>(await request(fx.app).get(`/fhir/Patient?family=${encodeURIComponent(family)}&_elements=name&_count=1`));
    const next = new URL(first.link!.find((l) => l.relation === 'next')!.url!);
    expect([...next.searchParams.keys()].sort()).toEqual(['_count', '_cursor', '_elements', 'family']);
    const second = json<Bundle<Patient>>(await request(fx.app).get(`${next.pathname}${next.search}`));
    expect(second.entry).toHaveLength(1);
    expect(second.entry![0].resource!.name?.[0].family).toBe(family);
    expect(second.entry![0].resource!.identifier).toBeUndefined();
  });

  it('lists the versions of a type in its type history and of everything in the system history', async () => {
    const obs = json<Observation>(await post('/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: '心率' } }));
    const typeHistory = json<Bundle>(await request(fx.app).get('/fhir/Observation/_history'));
    expect(typeHistory.type).toBe('history');
    expect(typeHistory.entry?.every((e) => e.resource?.resourceType === 'Observation')).toBe(true);
    expect(typeHistory.entry?.map((e) => e.resource?.id)).toContain(obs.id);
    const systemHistory = json<Bundle>(await request(fx.app).get('/fhir/_history?_count=500'));
    expect(new Set(systemHistory.entry?.map((e) => e.resource?.resourceType))).toEqual(new Set(['Patient', 'Observation']));
  });

  it('shows a delete in the instance history as a DELETE entry without a resource', async () => {
    const p = json<Patient>(await post('/fhir/Patient', patient('杨')));
    await request(fx.app).delete(`/fhir/Patient/${p.id}`);
    const history = json<Bundle>(await request(fx.app).get(`/fhir/Patient/${p.id}/_history`));
    expect(history.entry?.map((e) => [e.request?.method, e.resource === undefined])).toEqual([['DELETE', true], ['POST', false]]);
  });

  it('pages the instance history with _count and a next link', async () => {
    const p = json<Patient>(await post('/fhir/Patient', patient('朱')));
    await put(`/fhir/Patient/${p.id}`, { ...p, active: true });
    await put(`/fhir/Patient/${p.id}`, { ...p, active: false });
    const first = json<Bundle>(await request(fx.app).get(`/fhir/Patient/${p.id}/_history?_count=2`));
    expect(first.entry?.map((e) => e.response?.etag)).toEqual(['W/"3"', 'W/"2"']);
    const next = new URL(first.link!.find((l) => l.relation === 'next')!.url!);
    const second = json<Bundle>(await request(fx.app).get(`${next.pathname}${next.search}`));
    expect(second.entry?.map((e) => e.response?.etag)).toEqual(['W/"1"']);
  });

  it('answers each batch entry on its own, a failure beside successes', async () => {
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'batch',
      entry: [
        { resource: patient('秦'), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { resource: { resourceType: 'Patient', gender: 'X' }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(200);
    const bundle = json<Bundle>(res);
    expect(bundle.type).toBe('batch-response');
    expect(bundle.entry?.map((e) => e.response?.status)).toEqual(['201 Created', '404 Not Found', '400 Bad Request']);
    expect(bundle.entry?.[2].response?.outcome?.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(bundle.entry?.[2].response?.outcome)).toContain('Bundle.entry[2]');
  });

  it('processes a transaction in FHIR order: deletes, then creates, then updates, then reads', async () => {
    const doomed = json<Patient>(await post('/fhir/Patient', patient('尤')));
    const kept = json<Patient>(await post('/fhir/Patient', patient('许')));
    const urn = 'urn:uuid:0c0ffee0-0000-4000-8000-000000000001';
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        // listed first, yet it must see the Patient created by the POST below and the update of `kept`
        { request: { method: 'GET', url: `Patient/${kept.id}` } },
        { resource: { ...kept, active: true }, request: { method: 'PUT', url: `Patient/${kept.id}` } },
        { fullUrl: urn, resource: patient('何'), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'DELETE', url: `Patient/${doomed.id}` } },
      ],
    });
    expect(res.status).toBe(200);
    const bundle = json<Bundle>(res);
    expect(bundle.entry?.map((e) => e.response?.status)).toEqual(['200 OK', '200 OK', '201 Created', '200 OK']);
    expect((bundle.entry?.[0].resource as Patient).active).toBe(true);
    expect((await request(fx.app).get(`/fhir/Patient/${doomed.id}`)).status).toBe(410);
  });

  it('resolves urn:uuid references in both directions of a reference cycle inside a transaction', async () => {
    const a = 'urn:uuid:a0000000-0000-4000-8000-00000000000a';
    const b = 'urn:uuid:b0000000-0000-4000-8000-00000000000b';
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: a, resource: { ...patient('吕'), link: [{ other: { reference: b }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: b, resource: { ...patient('施'), link: [{ other: { reference: a }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(200);
    const [pa, pb] = json<Bundle<Patient>>(res).entry!.map((e) => e.resource!);
    const storedA = json<Patient>(await request(fx.app).get(`/fhir/Patient/${pa.id}`));
    const storedB = json<Patient>(await request(fx.app).get(`/fhir/Patient/${pb.id}`));
    expect(storedA.link?.[0].other.reference).toBe(`Patient/${pb.id}`);
    expect(storedB.link?.[0].other.reference).toBe(`Patient/${pa.id}`);
  });

  it('resolves a urn:uuid inside the search URL of a conditional update entry', async () => {
    const p = json<Patient>(await post('/fhir/Patient', patient('金')));
    const o = json<Observation>(await post('/fhir/Observation', { resourceType: 'Observation', status: 'preliminary', code: { text: '血糖' }, subject: { reference: `Patient/${p.id}` } }));
    const urn = 'urn:uuid:c0000000-0000-4000-8000-00000000000c';
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: urn, resource: { ...p, active: true }, request: { method: 'PUT', url: `Patient/${p.id}` } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: '血糖' }, subject: { reference: urn } }, request: { method: 'PUT', url: `Observation?subject=${urn}` } },
      ],
    });
    expect(res.status).toBe(200);
    const updated = json<Bundle>(res).entry![1];
    expect(updated.response?.status).toBe('200 OK');
    expect(updated.resource?.id).toBe(o.id);
    expect((updated.resource as Observation).subject?.reference).toBe(`Patient/${p.id}`);
  });

  it('resolves the urn:uuid of a conditional update entry in the update entries after it', async () => {
    const mrn = `m-${process.pid}-cond-urn`;
    const urn = 'urn:uuid:d0000000-0000-4000-8000-00000000000d';
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: urn, resource: patient('邹', mrn), request: { method: 'PUT', url: `Patient?identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}` } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: '尿常规' }, subject: { reference: urn } }, request: { method: 'PUT', url: `Observation?subject=${urn}` } },
      ],
    });
    expect(res.status).toBe(200);
    const [p, o] = json<Bundle>(res).entry!.map((e) => e.resource!);
    expect((o as Observation).subject?.reference).toBe(`Patient/${p.id}`);
  });

  it('deletes the one match of a conditional delete and refuses to choose among several with 412', async () => {
    const family = `条件删除${process.pid}`;
    const one = json<Patient>(await post('/fhir/Patient', patient(family)));
    expect((await request(fx.app).delete(`/fhir/Patient?family=${encodeURIComponent(family)}`)).status).toBe(200);
    expect((await request(fx.app).get(`/fhir/Patient/${one.id}`)).status).toBe(410);
    await post('/fhir/Patient', patient(family));
    await post('/fhir/Patient', patient(family));
    expect((await request(fx.app).delete(`/fhir/Patient?family=${encodeURIComponent(family)}`)).status).toBe(412);
    const left = json<Bundle>(await request(fx.app).get(`/fhir/Patient?family=${encodeURIComponent(family)}`));
    expect(left.entry).toHaveLength(2);
  });

  it('applies a JSON Patch carried as a Binary in a transaction entry', async () => {
    const p = json<Patient>(await post('/fhir/Patient', patient('张')));
    const patchDoc: Binary = { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify([{ op: 'add', path: '/active', value: true }])).toString('base64') };
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: patchDoc, request: { method: 'PATCH', url: `Patient/${p.id}` } }],
    });
    expect(res.status).toBe(200);
    expect(json<Patient>(await request(fx.app).get(`/fhir/Patient/${p.id}`)).active).toBe(true);
  });

  it('answers a failed transaction with the failing entry\'s status and leaves no trace of the others', async () => {
    const before = await countRows(fx.db, 'fhir_history');
    const res = await post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: patient('孔'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', id: 'p-tx', name: [{ family: '曹' }] }, request: { method: 'PUT', url: 'Patient/p-tx' } },
        { request: { method: 'GET', url: 'Patient/missing-in-tx' } },
      ],
    });
    expect(res.status).toBe(404);
    expect(json<OperationOutcome>(res).issue?.[0].expression).toContain('Bundle.entry[2]');
    expect(await countRows(fx.db, 'fhir_history')).toBe(before);
  });

  it('serves the OperationDefinition generated from the $validate declaration', async () => {
    const res = await request(fx.app).get('/fhir/OperationDefinition/validate');
    expect(res.status).toBe(200);
    const def = json<OperationDefinition>(res);
    expect(def).toMatchObject({ code: 'validate', type: true, system: false, instance: false, affectsState: false });
    expect(def.parameter?.map((p) => [p.name, p.use, p.min, p.max, p.type])).toEqual([
      ['resource', 'in', 1, '1', 'Resource'], ['mode', 'in', 0, '1', 'code'], ['profile', 'in', 0, '1', 'uri'],
      ['return', 'out', 1, '1', 'OperationOutcome'],
    ]);
  });
});
