import request from 'supertest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { startSecureFhir, type SecureFhirFixture } from './secure-fhir-fixture';

/*
 * The access-control matrix of issue 7: each role × each resource type × each interaction (read, search, _include,
 * _revinclude, history, chained search, write, operation) over two patients' data. Expectations come from one table
 * of what each role may read, write and see, so every cell is asserted against the same statement of the rules.
 *
 * Data: patients P1 and P2; doctor D1 treats P1 (Encounter E1 names D1 as participant), D2 treats P2; Observations
 * O1/O2 (each with a focus on the other patient), Invoices I1/I2 and a directory Organization ORG.
 */

type Role = 'patient' | 'doctor' | 'operator' | 'engineer' | 'admin';
const ROLES: Role[] = ['patient', 'doctor', 'operator', 'engineer', 'admin'];
const TYPES = ['Patient', 'Observation', 'Encounter', 'Invoice', 'Organization', 'Practitioner'] as const;
type Type = (typeof TYPES)[number];

const SUBJECT: Record<Role, string | undefined> = { patient: 'Patient/P1', doctor: 'Practitioner/D1', operator: undefined, engineer: undefined, admin: undefined };

/** The resources, by id, with the patient whose data each is (none for directories). */
const DATA: Array<{ id: string; type: Type; patient?: 'P1' | 'P2' }> = [
  { id: 'P1', type: 'Patient', patient: 'P1' }, { id: 'P2', type: 'Patient', patient: 'P2' },
  { id: 'O1', type: 'Observation', patient: 'P1' }, { id: 'O2', type: 'Observation', patient: 'P2' },
  { id: 'E1', type: 'Encounter', patient: 'P1' }, { id: 'E2', type: 'Encounter', patient: 'P2' },
  { id: 'I1', type: 'Invoice', patient: 'P1' }, { id: 'I2', type: 'Invoice', patient: 'P2' },
  { id: 'ORG', type: 'Organization' }, { id: 'D1', type: 'Practitioner' }, { id: 'D2', type: 'Practitioner' },
];

/** What each role may read and write by type, and which patients' rows it sees (the rules of access-policy.ts). */
const RULES: Record<Role, { read: Type[]; write: Type[]; patients: Array<'P1' | 'P2'> }> = {
  patient: { read: ['Patient', 'Observation', 'Encounter', 'Invoice', 'Organization', 'Practitioner'], write: ['Patient'], patients: ['P1'] },
  doctor: { read: [...TYPES], write: [...TYPES], patients: ['P1'] },
  operator: { read: ['Patient', 'Encounter', 'Invoice', 'Organization', 'Practitioner'], write: ['Invoice'], patients: ['P1', 'P2'] },
  engineer: { read: [], write: [], patients: [] },
  admin: { read: [...TYPES], write: [...TYPES], patients: ['P1', 'P2'] },
};

const OPERATIONS: Record<string, Role[]> = { card: ['patient', 'doctor', 'operator', 'admin'], 'approve-refund': ['operator', 'admin'] };

const typeOf = (id: string): Type => DATA.find((d) => d.id === id)!.type;
const canRead = (role: Role, type: Type) => RULES[role].read.includes(type);
const sees = (role: Role, id: string): boolean => {
  const d = DATA.find((x) => x.id === id)!;
  return canRead(role, d.type) && (!d.patient || RULES[role].patients.includes(d.patient));
};
const readStatus = (role: Role, id: string): number => (!canRead(role, typeOf(id)) ? 403 : sees(role, id) ? 200 : 404);
const writeStatus = (role: Role, id: string): number => {
  const d = DATA.find((x) => x.id === id)!;
  if (!RULES[role].write.includes(d.type)) return 403;
  return !d.patient || RULES[role].patients.includes(d.patient) ? 200 : 403;
};
const visibleAmong = (role: Role, ids: string[]) => ids.filter((id) => sees(role, id)).sort();

function seed(): Resource[] {
  const patient = (id: string, family: string): Resource => ({ resourceType: 'Patient', id, name: [{ family, given: ['测试'] }], identifier: [{ system: 'urn:oid:2.16.156.10011.1.1', value: `45010019900101${id === 'P1' ? '1234' : '5678'}` }] });
  return [
    patient('P1', '王'), patient('P2', '李'),
    { resourceType: 'Practitioner', id: 'D1', name: [{ family: '张医生' }] },
    { resourceType: 'Practitioner', id: 'D2', name: [{ family: '赵医生' }] },
    { resourceType: 'Organization', id: 'ORG', name: '桃源院区药房' },
    ...(['1', '2'] as const).flatMap((n): Resource[] => [
      { resourceType: 'Encounter', id: `E${n}`, status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' }, subject: { reference: `Patient/P${n}` }, participant: [{ individual: { reference: `Practitioner/D${n}` } }] },
      // O1 also points at the other patient (focus is not a compartment parameter): an _include must not follow it.
      { resourceType: 'Observation', id: `O${n}`, status: 'final', code: { text: '血红蛋白' }, subject: { reference: `Patient/P${n}` }, encounter: { reference: `Encounter/E${n}` }, focus: [{ reference: `Patient/P${n === '1' ? '2' : '1'}` }] },
      { resourceType: 'Invoice', id: `I${n}`, status: 'issued', subject: { reference: `Patient/P${n}` } },
    ]),
  ];
}

const idsOf = (bundle: Bundle): string[] => (bundle.entry ?? []).filter((e) => e.resource?.resourceType !== 'OperationOutcome').map((e) => e.resource!.id!).sort();

describe.each(ALL_DATABASES)('access-control matrix on %s', (kind) => {
  let fx: SecureFhirFixture;
  const tokens = new Map<Role, string>();
  const stored = new Map<string, Resource>();

  beforeAll(async () => {
    fx = await startSecureFhir(kind);
    for (const r of seed()) stored.set(r.id!, (await fx.repository.update(r)).resource);
    for (const role of ROLES) tokens.set(role, await fx.token(role, SUBJECT[role]));
  });
  afterAll(async () => { await fx?.close(); });

  const get = (role: Role, path: string) => request(fx.app).get(`/fhir/${path}`).set('Authorization', `Bearer ${tokens.get(role)}`);

  const cells = ROLES.flatMap((role) => DATA.map((d) => [role, d.id] as const));

  it.each(cells)('%s: read %s', async (role, id) => {
    const res = await get(role, `${typeOf(id)}/${id}`);
    expect(res.status).toBe(readStatus(role, id));
  });

  it.each(cells)('%s: history of %s', async (role, id) => {
    const res = await get(role, `${typeOf(id)}/${id}/_history`);
    expect(res.status).toBe(readStatus(role, id));
  });

  it.each(cells)('%s: write (update) %s', async (role, id) => {
    const res = await request(fx.app).put(`/fhir/${typeOf(id)}/${id}`).set('Authorization', `Bearer ${tokens.get(role)}`)
      .set('Content-Type', 'application/fhir+json').send(JSON.stringify(stored.get(id)));
    expect(res.status).toBe(writeStatus(role, id));
  });

  it.each(ROLES.flatMap((role) => TYPES.map((type) => [role, type] as const)))('%s: search %s', async (role, type) => {
    const res = await get(role, type);
    if (!canRead(role, type)) return expect(res.status).toBe(403);
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual(visibleAmong(role, DATA.filter((d) => d.type === type).map((d) => d.id)));
  });

  it.each(ROLES)('%s: _include of encounters\' subjects and participants', async (role) => {
    const res = await get(role, 'Encounter?_include=Encounter:subject&_include=Encounter:participant');
    if (!canRead(role, 'Encounter')) return expect(res.status).toBe(403);
    const encounters = visibleAmong(role, ['E1', 'E2']);
    const targets = encounters.flatMap((e) => [`P${e[1]}`, `D${e[1]}`]);
    expect(idsOf(res.body)).toEqual(visibleAmong(role, [...encounters, ...targets]));
  });

  it.each(ROLES)('%s: _revinclude of observations and invoices of patients', async (role) => {
    const res = await get(role, 'Patient?_revinclude=Observation:subject&_revinclude=Invoice:subject');
    if (!canRead(role, 'Patient')) return expect(res.status).toBe(403);
    const patients = visibleAmong(role, ['P1', 'P2']);
    const pointing = patients.flatMap((p) => [`O${p[1]}`, `I${p[1]}`]);
    expect(idsOf(res.body)).toEqual(visibleAmong(role, [...patients, ...pointing]));
  });

  it.each(ROLES)('%s: _include:iterate from observations through encounters to patients', async (role) => {
    const res = await get(role, 'Observation?_include=Observation:encounter&_include:iterate=Encounter:subject');
    if (!canRead(role, 'Observation')) return expect(res.status).toBe(403);
    const obs = visibleAmong(role, ['O1', 'O2']);
    expect(idsOf(res.body)).toEqual(visibleAmong(role, obs.flatMap((o) => [o, `E${o[1]}`, `P${o[1]}`])));
  });

  it.each(ROLES)('%s: _include across a reference to the other patient', async (role) => {
    const res = await get(role, 'Observation?_include=Observation:focus');
    if (!canRead(role, 'Observation')) return expect(res.status).toBe(403);
    const obs = visibleAmong(role, ['O1', 'O2']);
    expect(idsOf(res.body)).toEqual(visibleAmong(role, obs.flatMap((o) => [o, o === 'O1' ? 'P2' : 'P1'])));
  });

  it.each(ROLES.flatMap((role) => (['P1', 'P2'] as const).map((p) => [role, p] as const)))('%s: chained search of encounters by the name of %s', async (role, p) => {
    const family = p === 'P1' ? '王' : '李';
    const res = await get(role, `Encounter?subject:Patient.name=${encodeURIComponent(family)}`);
    if (!canRead(role, 'Encounter')) return expect(res.status).toBe(403);
    expect(idsOf(res.body)).toEqual(sees(role, p) ? visibleAmong(role, [`E${p[1]}`]) : []);
  });

  it.each(ROLES.flatMap((role) => (['P1', 'P2'] as const).map((p) => [role, p] as const)))('%s: instance operation $card on %s', async (role, p) => {
    const res = await request(fx.app).post(`/fhir/Patient/${p}/$card`).set('Authorization', `Bearer ${tokens.get(role)}`)
      .set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Parameters' }));
    expect(res.status).toBe(OPERATIONS.card.includes(role) ? readStatus(role, p) : 403);
  });

  it.each(ROLES)('%s: system operation $approve-refund', async (role) => {
    const res = await request(fx.app).post('/fhir/$approve-refund').set('Authorization', `Bearer ${tokens.get(role)}`)
      .set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Parameters' }));
    expect(res.status).toBe(OPERATIONS['approve-refund'].includes(role) ? 200 : 403);
  });

  it.each(ROLES)('%s: history of a whole type and of the server', async (role) => {
    const type = await get(role, 'Encounter/_history');
    const system = await get(role, '_history');
    expect([type.status, system.status]).toEqual([
      canRead(role, 'Encounter') && RULES[role].patients.length === 2 ? 200 : 403,
      role === 'admin' ? 200 : 403,
    ]);
  });

  it('a patient cannot create a record in another patient\'s compartment', async () => {
    const res = await request(fx.app).post('/fhir/Observation').set('Authorization', `Bearer ${tokens.get('patient')}`)
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/P2' } }));
    expect(res.status).toBe(403);
  });

  it('a doctor cannot link a new patient to themselves by writing an encounter', async () => {
    const res = await request(fx.app).post('/fhir/Encounter').set('Authorization', `Bearer ${tokens.get('doctor')}`)
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ ...stored.get('E2'), id: undefined, participant: [{ individual: { reference: 'Practitioner/D1' } }] }));
    expect(res.status).toBe(403);
    expect(idsOf((await get('doctor', 'Patient')).body)).toEqual(['P1']);
  });

  it('a transaction Bundle entry is checked like the same call on its own', async () => {
    const res = await request(fx.app).post('/fhir').set('Authorization', `Bearer ${tokens.get('patient')}`)
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Observation/O1' } }, { request: { method: 'GET', url: 'Observation/O2' } }] }));
    expect((res.body as Bundle).entry?.map((e) => e.response?.status)).toEqual(['200 OK', '404 Not Found']);
  });
});
