import type { Patient } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { ALL_DATABASES } from '../../support/databases';
import { countRows, openStore, patient, statusOf, StoreFixture } from './store-fixture';

describe.each(ALL_DATABASES)('KnexRepository reads and writes on %s', (kind) => {
  let fx: StoreFixture;
  beforeAll(async () => { fx = await openStore(kind); });
  afterAll(async () => { await fx.cleanup(); });

  it('create assigns a server id, version 1 and a lastUpdated instant with milliseconds', async () => {
    const { resource, created } = await fx.repository().create({ ...patient('张'), id: 'client-chosen' });
    expect(created).toBe(true);
    expect(resource.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(resource.meta?.versionId).toBe('1');
    expect(resource.meta?.lastUpdated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('assigns time-ordered ids (UUIDv7), so that new rows go to the end of the indexes led by the id', async () => {
    const repo = fx.repository();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await repo.create(patient('李'))).resource.id as string);
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
  });

  it('read returns what create stored, Chinese text intact', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('张三丰'));
    await expect(repo.read<Patient>('Patient', resource.id as string)).resolves.toEqual(resource);
  });

  it('read of an id that never existed answers 404', async () => {
    expect(await statusOf(fx.repository().read('Patient', 'no-such-id'))).toBe(404);
  });

  it('update writes version 2 and vread still returns version 1', async () => {
    const repo = fx.repository();
    const { resource: v1 } = await repo.create(patient('李'));
    const { resource: v2, created } = await repo.update({ ...v1, gender: 'female' });
    expect(created).toBe(false);
    expect(v2.meta?.versionId).toBe('2');
    expect((await repo.vread<Patient>('Patient', v1.id as string, '1')).gender).toBeUndefined();
    expect((await repo.read<Patient>('Patient', v1.id as string)).gender).toBe('female');
  });

  it('vread of a version that does not exist answers 404', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('周'));
    expect(await statusOf(repo.vread('Patient', resource.id as string, '7'))).toBe(404);
  });

  it('update with a stale If-Match answers 412 and writes no version', async () => {
    const repo = fx.repository();
    const { resource: v1 } = await repo.create(patient('王'));
    await repo.update({ ...v1, gender: 'male' });
    expect(await statusOf(repo.update({ ...v1, gender: 'female' }, { ifMatch: 'W/"1"' }))).toBe(412);
    expect((await repo.read<Patient>('Patient', v1.id as string)).meta?.versionId).toBe('2');
  });

  it('update with the current If-Match succeeds', async () => {
    const repo = fx.repository();
    const { resource: v1 } = await repo.create(patient('赵'));
    const { resource } = await repo.update({ ...v1, gender: 'male' }, { ifMatch: 'W/"1"' });
    expect(resource.meta?.versionId).toBe('2');
  });

  it('update of an id that does not exist creates it with the client id', async () => {
    const repo = fx.repository();
    const { resource, created } = await repo.update({ ...patient('钱'), id: 'his-000123' });
    expect(created).toBe(true);
    expect(resource.meta?.versionId).toBe('1');
    expect((await repo.read<Patient>('Patient', 'his-000123')).name?.[0].family).toBe('钱');
  });

  it('ids that differ only in letter case are different resources', async () => {
    const repo = fx.repository();
    await repo.update({ ...patient('upper'), id: 'CaseId' });
    await repo.update({ ...patient('lower'), id: 'caseid' });
    expect((await repo.read<Patient>('Patient', 'CaseId')).name?.[0].family).toBe('upper');
  });

  it('an update whose id is not a FHIR id answers 400', async () => {
    expect(await statusOf(fx.repository().update({ ...patient('孙'), id: 'has space' }))).toBe(400);
  });

  it('an invalid resource is rejected with its FHIRPath and nothing is written', async () => {
    const before = await countRows(fx.db, 'fhir_history');
    const err = await fx.repository().create({ ...patient('吴'), birthDate: 'yesterday' }).catch((e) => e);
    expect(err).toBeInstanceOf(OperationOutcomeError);
    expect(JSON.stringify((err as OperationOutcomeError).outcome)).toContain('Patient.birthDate');
    expect(await countRows(fx.db, 'fhir_history')).toBe(before);
  });

  it('a hostile nesting depth is refused as an OperationOutcome, not a stack overflow, and nothing is written', async () => {
    const before = await countRows(fx.db, 'fhir_history');
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 100_000; i++) deep = (deep.extension = [{ url: 'x' }] as unknown as Record<string, unknown>[])[0] as Record<string, unknown>;
    const err = await fx.repository().create({ ...patient('褚'), ...root } as Patient).catch((e) => e);
    expect(err).toBeInstanceOf(OperationOutcomeError);
    expect(JSON.stringify((err as OperationOutcomeError).outcome)).toContain('nests deeper than');
    expect(await countRows(fx.db, 'fhir_history')).toBe(before);
  });

  it('an update that repeats identical content still creates a version', async () => {
    const repo = fx.repository();
    const { resource: v1 } = await repo.create(patient('郑'));
    const { resource: v2 } = await repo.update(v1);
    expect(v2.meta?.versionId).toBe('2');
  });

  it('the version and instant a client sends in meta are replaced by the server', async () => {
    const repo = fx.repository();
    const { resource: v1 } = await repo.create(patient('冯'));
    const { resource } = await repo.update({ ...v1, meta: { versionId: '99', lastUpdated: '2000-01-01T00:00:00.000Z', tag: [{ code: 'x' }] } });
    expect(resource.meta).toEqual({ versionId: '2', lastUpdated: expect.not.stringMatching(/^2000/), tag: [{ code: 'x' }] });
  });

  it('patch applies JSON Patch operations as a new version', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('陈'));
    const patched = await repo.patch<Patient>('Patient', resource.id as string, [
      { op: 'add', path: '/gender', value: 'female' },
      { op: 'replace', path: '/name/0/family', value: '陈二' },
    ]);
    expect(patched.meta?.versionId).toBe('2');
    expect(await repo.read<Patient>('Patient', resource.id as string)).toMatchObject({ gender: 'female', name: [{ family: '陈二' }] });
  });

  it('patch that would change the id answers 400', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('褚'));
    expect(await statusOf(repo.patch('Patient', resource.id as string, [{ op: 'replace', path: '/id', value: 'other' }]))).toBe(400);
  });

  it('patch whose test operation fails answers 400 and writes nothing', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('卫'));
    const ops = [{ op: 'test' as const, path: '/gender', value: 'male' }, { op: 'add' as const, path: '/active', value: true }];
    expect(await statusOf(repo.patch('Patient', resource.id as string, ops))).toBe(400);
    expect((await repo.read('Patient', resource.id as string)).meta?.versionId).toBe('1');
  });

  it('patch producing an invalid resource answers 400', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('蒋'));
    expect(await statusOf(repo.patch('Patient', resource.id as string, [{ op: 'add', path: '/birthDate', value: 'yesterday' }]))).toBe(400);
  });

  it('patch with a stale If-Match answers 412', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('沈'));
    await repo.update({ ...resource, active: true });
    expect(await statusOf(repo.patch('Patient', resource.id as string, [{ op: 'add', path: '/active', value: false }], { ifMatch: '1' }))).toBe(412);
  });

  it('after delete, read answers 410 and the deleted version answers 410 on vread', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('韩'));
    await repo.delete('Patient', resource.id as string);
    expect(await statusOf(repo.read('Patient', resource.id as string))).toBe(410);
    expect(await statusOf(repo.vread('Patient', resource.id as string, '2'))).toBe(410);
    expect((await repo.vread<Patient>('Patient', resource.id as string, '1')).name?.[0].family).toBe('韩');
  });

  it('deleting a missing or already deleted resource writes nothing', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('杨'));
    await repo.delete('Patient', resource.id as string);
    const before = await countRows(fx.db, 'fhir_history');
    await repo.delete('Patient', resource.id as string);
    await repo.delete('Patient', 'never-was');
    expect(await countRows(fx.db, 'fhir_history')).toBe(before);
  });

  it('update after delete brings the resource back as a new version (created)', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('朱'));
    await repo.delete('Patient', resource.id as string);
    const again = await repo.update({ ...resource, active: true });
    expect(again.created).toBe(true);
    expect(again.resource.meta?.versionId).toBe('3');
  });

  it('create, update and delete each write one outbox row with their action, in order', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('秦'));
    await repo.update({ ...resource, active: true });
    await repo.delete('Patient', resource.id as string);
    const rows = await fx.db('fhir_outbox').where({ resource_id: resource.id }).orderBy('seq');
    expect(rows.map((r) => [r.action, Number(r.version_id), r.published_at])).toEqual([['create', 1, null], ['update', 2, null], ['delete', 3, null]]);
  });

  it('writes index each version and unindex on delete', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('尤'));
    await repo.delete('Patient', resource.id as string);
    expect(fx.fakeIndex?.calls.filter((c) => c.includes(resource.id as string))).toEqual([
      `index Patient/${resource.id}/1`, `unindex Patient/${resource.id}`,
    ]);
  });

  it('withContext writes the correlation id into the outbox row', async () => {
    const { resource } = await fx.repository().withContext({ correlationId: 'corr-42' }).create(patient('许'));
    const row = await fx.db('fhir_outbox').where({ resource_id: resource.id }).first();
    expect(row.correlation_id).toBe('corr-42');
  });
});
