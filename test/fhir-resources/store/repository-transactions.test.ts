import type { Patient } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { countRows, openStore, patient, statusOf, StoreFixture } from './store-fixture';
import { statementsDuring } from './pg-statements';

const TABLES = ['fhir_resources', 'fhir_history', 'fhir_outbox'];
const counts = (fx: StoreFixture) => Promise.all(TABLES.map((t) => countRows(fx.db, t)));

describe.each(ALL_DATABASES)('KnexRepository transactions and concurrency on %s', (kind) => {
  let fx: StoreFixture;
  beforeAll(async () => { fx = await openStore(kind); });
  afterAll(async () => { await fx.cleanup(); });

  it('a transaction that throws leaves no resource, history or outbox row', async () => {
    const before = await counts(fx);
    await expect(fx.repository().transaction(async (repo) => {
      const { resource } = await repo.create(patient('回滚'));
      await repo.update({ ...resource, active: true });
      throw new Error('business rule failed');
    })).rejects.toThrow('business rule failed');
    expect(await counts(fx)).toEqual(before);
  });

  it('a nested transaction joins the outer one and rolls back with it', async () => {
    const before = await counts(fx);
    await expect(fx.repository().transaction(async (outer) => {
      await outer.transaction((inner) => inner.create(patient('内层')));
      await outer.create(patient('外层'));
      throw new Error('outer failed');
    })).rejects.toThrow('outer failed');
    expect(await counts(fx)).toEqual(before);
  });

  it('writes inside a committed transaction are all kept and read back inside it', async () => {
    const repo = fx.repository();
    const ids = await repo.transaction(async (tx) => {
      const a = await tx.create(patient('甲'));
      const b = await tx.create(patient('乙'));
      expect((await tx.read<Patient>('Patient', a.resource.id as string)).name?.[0].family).toBe('甲');
      return [a.resource.id as string, b.resource.id as string];
    });
    for (const id of ids) await expect(repo.read('Patient', id)).resolves.toBeDefined();
  });

  it('the repository wakes its listener only after a write commits', async () => {
    let wakes = 0;
    const repo = fx.repository({ onCommit: () => { wakes++; } });
    await repo.create(patient('醒'));
    await repo.transaction(async (tx) => { await tx.create(patient('一')); await tx.create(patient('二')); }).catch(() => undefined);
    await repo.transaction(async (tx) => { await tx.create(patient('三')); throw new Error('no'); }).catch(() => undefined);
    expect(wakes).toBe(2);
  });

  it('concurrent updates with the same If-Match: exactly one wins, the others answer 412', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('并发'));
    const statuses = await Promise.all([1, 2, 3, 4, 5].map((n) =>
      statusOf(repo.update({ ...resource, name: [{ family: `writer ${n}` }] }, { ifMatch: 'W/"1"' }))));
    expect(statuses.filter((s) => s === 'ok')).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(4);
    const { entries } = await repo.history('Patient', resource.id);
    expect(entries.map((e) => e.versionId)).toEqual(['2', '1']);
  });

  it('concurrent updates without If-Match are all kept as consecutive versions', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('排队'));
    await Promise.all([1, 2, 3, 4].map((n) => repo.update({ ...resource, name: [{ family: `writer ${n}` }] })));
    const { entries } = await repo.history('Patient', resource.id);
    expect(entries.map((e) => e.versionId)).toEqual(['5', '4', '3', '2', '1']);
    const outbox = await fx.db('fhir_outbox').where({ resource_id: resource.id }).orderBy('seq');
    expect(outbox.map((r) => Number(r.version_id))).toEqual([1, 2, 3, 4, 5]);
  });

  it('concurrent create-on-update of one new id creates it once and keeps the others as later versions', async () => {
    const repo = fx.repository();
    const results = await Promise.all([1, 2, 3].map((n) => repo.update({ ...patient(`c${n}`), id: `race-${kind}` })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const { entries } = await repo.history('Patient', `race-${kind}`);
    expect(entries.map((e) => e.versionId)).toEqual(['3', '2', '1']);
  });

  it('a write after readForWrite in its transaction reuses the locked row: one SELECT of the current row, not two', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('锁行'));
    const selects: string[] = [];
    const seen = (q: { sql: string }) => { if (/^select .* from [`"]?fhir_resources/i.test(q.sql)) selects.push(q.sql); };
    // PostgreSQL reads a transaction's rows without knex (current-row.ts): its statements are counted at the driver.
    const { texts } = await statementsDuring(async () => {
      fx.db.on('query', seen);
      try {
        await repo.transactionWith(async (tx) => {
          const before = await tx.readForWrite<Patient>('Patient', resource.id!);
          expect(before?.name?.[0].family).toBe('锁行');
          await tx.update({ ...resource, name: [{ family: '锁行二' }] });
          // The row was forgotten after the write: the delete reads (and locks) version 2 itself.
          await tx.delete('Patient', resource.id!);
        });
      } finally {
        fx.db.off('query', seen);
      }
    });
    if (kind === 'postgres') selects.push(...texts.filter((t) => /^select .* from fhir_resources/i.test(t)));
    expect(selects).toHaveLength(2);
    if (kind !== 'sqlite') expect(selects.every((sql) => /for update/i.test(sql))).toBe(true);
    const { entries } = await repo.history('Patient', resource.id);
    expect(entries.map((e) => e.versionId)).toEqual(['3', '2', '1']);
    expect(await repo.readForWrite('Patient', resource.id!)).toBeUndefined();
  });

  it('concurrent read-then-update transactions queue on the row lock and keep every version', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('排队锁'));
    await Promise.all([1, 2, 3, 4].map((n) => repo.transactionWith(async (tx) => {
      const current = await tx.readForWrite<Patient>('Patient', resource.id!);
      await tx.update({ ...current!, name: [{ family: `writer ${n}` }] }, { ifMatch: `W/"${current!.meta!.versionId}"` });
    })));
    const { entries } = await repo.history('Patient', resource.id);
    expect(entries.map((e) => e.versionId)).toEqual(['5', '4', '3', '2', '1']);
  });

  it('createAlone writes the version, its index and outbox rows and its companions together; on PostgreSQL as one statement without BEGIN and COMMIT', async () => {
    // The real search index, which hands its rows to the version writer (the stand-in indexes separately).
    const real = await openStore(kind, 'real');
    try {
      await createAloneOn(real);
    } finally {
      await real.cleanup();
    }
  });

  async function createAloneOn(fx: StoreFixture): Promise<void> {
    await fx.db.schema.createTable('companion_rows', (t) => { t.increments('id'); t.text('content'); });
    const woken: string[] = [];
    const repo = fx.repository({ onCommit: () => woken.push('commit') });
    const statements: string[] = [];
    const seen = (q: { sql: string }) => statements.push(q.sql);
    fx.db.on('query', seen);
    let created;
    try {
      created = await repo.createAlone(patient('独写'), (stored) => [{ table: 'companion_rows', columns: ['content'], values: [[`audit of ${stored.id}`], [`v${stored.meta?.versionId}`]] }]);
    } finally {
      fx.db.off('query', seen);
    }
    const id = created.resource.id!;
    expect(created).toMatchObject({ created: true, resource: { meta: { versionId: '1' } } });
    // PostgreSQL: the one statement runs as a named prepared statement on a pooled connection, outside knex's queries.
    if (kind === 'postgres') expect(statements).toEqual([]);
    else expect(statements.some((sql) => /begin/i.test(sql)) || kind === 'sqlite').toBe(true);
    expect(woken).toEqual(['commit']);
    expect((await repo.read<Patient>('Patient', id)).name?.[0].family).toBe('独写');
    expect(await fx.db('fhir_history').where({ id }).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(1);
    expect(await fx.db('fhir_outbox').where({ resource_id: id }).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(1);
    // Rows of one statement's sub-statements take their serial ids in no set order.
    expect((await fx.db('companion_rows')).map((r) => r.content).sort()).toEqual([`audit of ${id}`, 'v1']);
    expect(await fx.db('fhir_idx_token').where({ resource_id: id }).count({ n: '*' }).then((r) => Number(r[0].n))).toBeGreaterThan(0);
  }

  it('createAlone inside a transaction joins it and rolls back with it, companions included', async () => {
    await fx.db.schema.createTable('companion_rows_rollback', (t) => { t.increments('id'); t.text('content'); });
    const before = await counts(fx);
    await expect(fx.repository().transactionWith(async (tx) => {
      await tx.createAlone(patient('回滚独写'), () => [{ table: 'companion_rows_rollback', columns: ['content'], values: [['gone']] }]);
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    expect(await counts(fx)).toEqual(before);
    expect(await fx.db('companion_rows_rollback').count({ n: '*' }).then((r) => Number(r[0].n))).toBe(0);
  });

  it('replaceAlone updates and deletes in one statement on PostgreSQL; a writer that gets in between makes it read again, and its index stays that of the version written', async () => {
    const real = await openStore(kind, 'real');
    try {
      const repo = real.repository();
      const { resource } = await repo.create(patient('乐观'));
      const id = resource.id!;
      const audit = (s: Patient) => [{ table: 'fhir_outbox_probe', columns: ['content'], values: [[`v${s.meta?.versionId}`]] }];
      await real.db.schema.createTable('fhir_outbox_probe', (t) => { t.increments('id'); t.text('content'); });
      const statements: string[] = [];
      let recording = true;
      const seen = (q: { sql: string }) => { if (recording) statements.push(q.sql); };
      let guarded = 0;
      real.db.on('query', seen);
      let stored: Patient | undefined;
      try {
        stored = await repo.replaceAlone<Patient>('Patient', id, { ...resource, name: [{ family: '乐观二' }] }, undefined, async (prev) => {
          guarded++;
          // The first time, another writer changes the resource after it was read: the compare-and-set then fails.
          if (guarded === 1) {
            expect(prev.meta?.versionId).toBe('1');
            recording = false;
            await real.repository().update({ ...resource, name: [{ family: '插队' }] });
            recording = true;
          }
        }, audit);
      } finally {
        real.db.off('query', seen);
      }
      if (kind !== 'postgres') {
        // Elsewhere the caller uses a transaction: nothing was read, guarded or written.
        expect(stored).toBeUndefined();
        expect(guarded).toBe(0);
        return;
      }
      expect(stored?.meta?.versionId).toBe('3');
      expect(guarded).toBe(2);
      expect(statements.filter((sql) => /begin|for update/i.test(sql))).toEqual([]);
      expect((await real.db('fhir_outbox_probe')).map((r) => r.content)).toEqual(['v3']);
      const names = await real.db('fhir_idx_string').where({ resource_id: id, param: 'family' }).pluck('value');
      expect(names).toEqual(['乐观二']);
      // If-Match against the version read: 412, nothing written.
      expect(await statusOf(repo.replaceAlone('Patient', id, { ...resource, gender: 'male' }, 'W/"1"', async () => {}, audit))).toBe(412);
      expect(await repo.replaceAlone('Patient', id, undefined, undefined, async () => {}, audit)).toMatchObject({ meta: { versionId: '4' } });
      await expect(repo.read('Patient', id)).rejects.toThrow();
      expect(await real.db('fhir_idx_string').where({ resource_id: id }).count({ n: '*' }).then((r) => Number(r[0].n))).toBe(0);
      // Nothing live to replace: the caller's transaction path decides (create-on-update, delete of nothing).
      expect(await repo.replaceAlone('Patient', id, undefined, undefined, async () => {}, audit)).toBeUndefined();
    } finally {
      await real.cleanup();
    }
  });
});
