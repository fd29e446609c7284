import { Operator } from '@medplum/core';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { deferVersion, flushVersions, VersionsNotWritten } from '../../../fhir-resources/store/deferred-versions';
import { KnexRepository } from '../../../fhir-resources/store/knex-repository';
import type { VersionWrite } from '../../../fhir-resources/store/version-writer';
import { statementsDuring } from './pg-statements';
import { countRows, openStore, patient, statusOf, StoreFixture } from './store-fixture';

const MRN = 'urn:oid:2.16.156.10011.1.2';
const withMrn = (family: string, mrn: string): Patient => patient(family, { identifier: [{ system: MRN, value: mrn }] });
const observation = (subject: string, text: string): Observation => ({ resourceType: 'Observation', status: 'final', code: { text }, subject: { reference: subject } });

async function ids(repo: KnexRepository, resourceType: 'Patient' | 'Observation', code: string, value: string): Promise<string[]> {
  const result = await repo.search({ resourceType, filters: [{ code, operator: Operator.EQUALS, value }] });
  return result.resources.map((r) => r.id as string).sort();
}

describe('versions of a PostgreSQL transaction sent together', () => {
  let fx: StoreFixture;

  beforeAll(async () => {
    fx = await openStore('postgres', 'real');
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  it('go out in one statement with their history, index and outbox rows, old index rows removed', async () => {
    const repo = fx.repository({ context: { correlationId: 'batch-1' } });
    const renamed = (await repo.create(withMrn('陈', 'D1'))).resource;
    const removed = (await repo.create(withMrn('林', 'D2'))).resource;
    const outboxBefore = await countRows(fx.db, 'fhir_outbox');
    const { result, texts } = await statementsDuring(() => repo.transaction(async (trx) => {
      const created = (await trx.create(withMrn('黄', 'D3'))).resource;
      const obs = (await trx.create(observation(`Patient/${created.id}`, '血糖'))).resource;
      await trx.update({ ...renamed, name: [{ family: '程' }] });
      await trx.delete('Patient', removed.id!);
      return { created, obs };
    }));
    expect(texts.filter((t) => t.includes('fhir_history'))).toHaveLength(1);
    expect(texts.filter((t) => /INSERT INTO fhir_resources|UPDATE fhir_resources/.test(t))).toHaveLength(1);

    expect((await repo.read<Patient>('Patient', result.created.id!)).meta?.versionId).toBe('1');
    expect((await repo.read<Patient>('Patient', renamed.id!)).name?.[0].family).toBe('程');
    expect(await statusOf(repo.read('Patient', removed.id!))).toBe(410);
    expect((await repo.history('Patient', renamed.id!)).entries.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
    // The renamed patient is found by the new name only; the deleted one by nothing; the new ones by theirs.
    expect(await ids(repo, 'Patient', 'family', '程')).toEqual([renamed.id]);
    expect(await ids(repo, 'Patient', 'family', '陈')).toEqual([]);
    expect(await ids(repo, 'Patient', 'identifier', `${MRN}|D2`)).toEqual([]);
    expect(await ids(repo, 'Patient', 'identifier', `${MRN}|D3`)).toEqual([result.created.id]);
    expect(await ids(repo, 'Observation', 'subject', `Patient/${result.created.id}`)).toEqual([result.obs.id]);
    // One event per version, in the order they were written, with the caller's correlation id.
    const events = await fx.db('fhir_outbox').where('seq', '>', 0).orderBy('seq').offset(outboxBefore)
      .select('resource_type', 'resource_id', 'version_id', 'action', 'correlation_id');
    expect(events.map((e) => `${e.action} ${e.resource_type}/${e.resource_id}/${e.version_id} ${e.correlation_id}`)).toEqual([
      `create Patient/${result.created.id}/1 batch-1`, `create Observation/${result.obs.id}/1 batch-1`,
      `update Patient/${renamed.id}/2 batch-1`, `delete Patient/${removed.id}/2 batch-1`,
    ]);
  });

  it('are seen by every later query of the transaction: the store\'s searches and plain knex queries', async () => {
    const repo = fx.repository();
    await repo.transaction(async (trx) => {
      const a = (await trx.create(withMrn('周', 'S1'))).resource;
      await trx.create(withMrn('吴', 'S2'));
      expect(await ids(trx as KnexRepository, 'Patient', 'identifier', `${MRN}|S1`)).toEqual([a.id]);
      await trx.update({ ...a, name: [{ family: '郑' }] });
      const row = await (trx as KnexRepository).connection('fhir_resources').where({ resource_type: 'Patient', id: a.id }).first();
      expect(row.version_id).toBe(2);
      // A conditional create after the writes finds the resource they created instead of making another.
      expect((await trx.create(withMrn('吴', 'S2'), { ifNoneExist: `identifier=${MRN}|S2` })).created).toBe(false);
    });
    expect(await ids(repo, 'Patient', 'identifier', `${MRN}|S2`)).toHaveLength(1);
    expect(await ids(repo, 'Patient', 'family', '郑')).toHaveLength(1);
  });

  it('write two versions of one resource in order, each replacing the other\'s index rows', async () => {
    const repo = fx.repository();
    const id = await repo.transaction(async (trx) => {
      const p = (await trx.create(withMrn('冯', 'T1'))).resource;
      await trx.update({ ...p, name: [{ family: '褚' }] });
      await trx.update({ ...p, name: [{ family: '卫' }] });
      return p.id!;
    });
    expect((await repo.history('Patient', id)).entries.map((e) => (e.resource as Patient | undefined)?.name?.[0].family)).toEqual(['卫', '褚', '冯']);
    expect(await ids(repo, 'Patient', 'family', '卫')).toEqual([id]);
    expect(await ids(repo, 'Patient', 'family', '褚')).toEqual([]);
  });

  it('leave nothing behind when the transaction rolls back', async () => {
    const repo = fx.repository();
    const before = await Promise.all(['fhir_resources', 'fhir_history', 'fhir_outbox', 'fhir_idx_token'].map((t) => countRows(fx.db, t)));
    await expect(repo.transaction(async (trx) => {
      await trx.create(withMrn('蒋', 'R1'));
      await trx.create(withMrn('沈', 'R2'));
      throw new Error('the caller gives up');
    })).rejects.toThrow('the caller gives up');
    expect(await Promise.all(['fhir_resources', 'fhir_history', 'fhir_outbox', 'fhir_idx_token'].map((t) => countRows(fx.db, t)))).toEqual(before);
  });

  describe('a version that cannot be written fails its whole transaction', () => {
    const write = (id: string, previous?: number): VersionWrite => ({
      resourceType: 'Basic', id, versionId: (previous ?? 0) + 1, lastUpdated: new Date().toISOString(), deleted: false,
      content: JSON.stringify({ resourceType: 'Basic', id }), method: previous ? 'PUT' : 'POST', action: previous ? 'update' : 'create',
      correlationId: null, previous, index: [], clearIndex: [],
    });

    it('names the versions whose compare-and-set found another version', async () => {
      await fx.repository().create({ resourceType: 'Basic', id: 'ignored', code: { text: 'x' } });
      await fx.db('fhir_resources').insert({ resource_type: 'Basic', id: 'cas-1', version_id: 3, last_updated: '2024-01-01T00:00:00.000Z', deleted: false, content: '{}' });
      const attempt = fx.db.transaction(async (trx) => {
        await deferVersion(trx, write('cas-new'));
        await deferVersion(trx, write('cas-1', 2));
        await flushVersions(trx);
      });
      await expect(attempt).rejects.toEqual(new VersionsNotWritten(['Basic/cas-1']));
      expect(await fx.db('fhir_resources').where({ resource_type: 'Basic', id: 'cas-new' }).first()).toBeUndefined();
    });

    it('rolls back at COMMIT when the versions went out only then, and the connection is fit for the next transaction', async () => {
      await fx.db('fhir_resources').insert({ resource_type: 'Basic', id: 'dup-1', version_id: 1, last_updated: '2024-01-01T00:00:00.000Z', deleted: false, content: '{}' });
      const failing = Array.from({ length: 4 }, () => fx.db.transaction(async (trx) => {
        await deferVersion(trx, write(`fresh-${Math.random()}`));
        await deferVersion(trx, write('dup-1'));
      }));
      const outcomes = await Promise.allSettled(failing);
      expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : o.status))).toEqual(['23505', '23505', '23505', '23505']);
      // Every pooled connection is out of its transaction: plain statements and new transactions work on all.
      await Promise.all(Array.from({ length: 8 }, (_, i) => fx.db.transaction(async (trx) => {
        await deferVersion(trx, write(`after-${i}`));
        await deferVersion(trx, write(`after-${i}-b`));
      })));
      expect(await fx.db('fhir_resources').where('id', 'like', 'after-%').count({ n: '*' }).first()).toEqual({ n: '16' });
      expect(await fx.db('fhir_resources').where('id', 'like', 'fresh-%').count({ n: '*' }).first()).toEqual({ n: '0' });
    });
  });
});
