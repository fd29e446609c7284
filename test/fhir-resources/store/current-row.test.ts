import knexFactory from 'knex';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { currentRowLoaderOf } from '../../../fhir-resources/store/current-row';
import { PgClient, statementsDuring } from './pg-statements';
import { openStore, patient, statusOf, StoreFixture } from './store-fixture';

const observation = (subject: string): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' }, subject: { reference: subject } });

describe('reads by id asked together on PostgreSQL', () => {
  let fx: StoreFixture;

  beforeAll(async () => {
    fx = await openStore('postgres');
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  it('share one statement per resource type, and each read gets its own resource', async () => {
    const repo = fx.repository();
    const patients = await Promise.all(['张', '李', '王'].map(async (family) => (await repo.create(patient(family))).resource));
    const observations = await Promise.all(patients.slice(0, 2).map(async (p) => (await repo.create(observation(`Patient/${p.id}`))).resource));
    const { result, texts } = await statementsDuring(() => Promise.all([
      ...patients.map((p) => repo.read('Patient', p.id!)),
      ...observations.map((o) => repo.read('Observation', o.id!)),
      repo.read('Patient', patients[0].id!),
    ]));
    expect(result.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      ...patients.map((p) => `Patient/${p.id}`), ...observations.map((o) => `Observation/${o.id}`), `Patient/${patients[0].id}`,
    ]);
    expect(result.slice(0, 3).map((p) => (p as { name?: Array<{ family?: string }> }).name?.[0].family)).toEqual(['张', '李', '王']);
    const reads = texts.filter((t) => /from fhir_resources where resource_type = \$1 and id/.test(t));
    expect(reads).toHaveLength(2);
    expect(reads.every((t) => t.includes('any($2)'))).toBe(true);
  });

  it('answers not found and gone per read within one batch', async () => {
    const repo = fx.repository();
    const kept = (await repo.create(patient('赵'))).resource;
    const removed = (await repo.create(patient('钱'))).resource;
    await repo.delete('Patient', removed.id!);
    const [a, b, c] = await Promise.all([
      statusOf(repo.read('Patient', kept.id!)),
      statusOf(repo.read('Patient', removed.id!)),
      statusOf(repo.read('Patient', 'no-such-patient')),
    ]);
    expect([a, b, c]).toEqual(['ok', 410, 404]);
  });

  it('sees a version committed before the read was asked', async () => {
    const repo = fx.repository();
    const created = (await repo.create(patient('孙'))).resource;
    const other = (await repo.create(patient('周'))).resource;
    await repo.update({ ...created, active: false });
    const [read, otherRead] = await Promise.all([repo.read<Patient>('Patient', created.id!), repo.read<Patient>('Patient', other.id!)]);
    expect(read.meta?.versionId).toBe('2');
    expect(read.active).toBe(false);
    expect(otherRead.meta?.versionId).toBe('1');
  });

  it('rejects every read of a batch whose statement fails, and the next batch works again', async () => {
    const db = knexFactory({ client: 'pg', connection: fx.database.url, pool: { min: 0, max: 2 } });
    try {
      const load = currentRowLoaderOf(db);
      const id = (await fx.repository().create(patient('吴'))).resource.id!;
      const original = PgClient.prototype.query;
      let failures = 0;
      const spy = jest.spyOn(PgClient.prototype, 'query').mockImplementation(function (this: unknown, config: unknown, ...rest: unknown[]) {
        if (String((config as { text?: string }).text).includes('from fhir_resources') && failures++ === 0) return Promise.reject(new Error('connection lost'));
        return original.call(this, config, ...rest);
      } as never);
      const failed = await Promise.allSettled([load('Patient', id), load('Patient', 'other')]);
      spy.mockRestore();
      expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect((failed[0] as PromiseRejectedResult).reason.message).toBe('connection lost');
      const row = await load('Patient', id);
      expect(Number(row?.version_id)).toBe(1);
    } finally {
      await db.destroy();
    }
  });
});
