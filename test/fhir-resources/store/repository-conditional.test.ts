import { Operator } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { countRows, openStore, patient, statusOf, StoreFixture } from './store-fixture';

// Matching runs through the real search index (fhir-resources/search); the store's part is what it does with none,
// one or several matches.
const MRN = 'urn:oid:2.16.156.10011.1.12';
const withMrn = (family: string, mrn: string): Patient => patient(family, { identifier: [{ system: MRN, value: mrn }] });

describe.each(ALL_DATABASES)('KnexRepository conditional interactions on %s', (kind) => {
  let fx: StoreFixture;
  beforeAll(async () => { fx = await openStore(kind, 'real'); });
  afterAll(async () => { await fx.cleanup(); });

  it('conditional create returns the one match unchanged and writes nothing', async () => {
    const repo = fx.repository();
    const { resource: first } = await repo.create(withMrn('张', 'A1'));
    const before = await countRows(fx.db, 'fhir_history');
    const again = await repo.create(withMrn('张', 'A1'), { ifNoneExist: `identifier=${MRN}|A1` });
    expect(again).toEqual({ resource: first, created: false });
    expect(await countRows(fx.db, 'fhir_history')).toBe(before);
  });

  it('conditional create with no match creates the resource', async () => {
    const { created } = await fx.repository().create(withMrn('李', 'B1'), { ifNoneExist: `identifier=${MRN}|B1` });
    expect(created).toBe(true);
  });

  it('conditional create matching several resources answers 412', async () => {
    const repo = fx.repository();
    await repo.create(withMrn('王', 'C1'));
    await repo.create(withMrn('王', 'C1'));
    expect(await statusOf(repo.create(withMrn('王', 'C1'), { ifNoneExist: `identifier=${MRN}|C1` }))).toBe(412);
  });

  it('conditional create inside a transaction sees a match created earlier in it', async () => {
    const created = await fx.repository().transaction(async (tx) => {
      await tx.create(withMrn('赵', 'D1'));
      return (await tx.create(withMrn('赵', 'D1'), { ifNoneExist: `identifier=${MRN}|D1` })).created;
    });
    expect(created).toBe(false);
  });

  it('concurrent conditional creates with one condition create one resource and return it to all', async () => {
    const repo = fx.repository();
    const results = await Promise.all([1, 2, 3, 4].map(() => repo.create(withMrn('并', 'R1'), { ifNoneExist: `identifier=${MRN}|R1` })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.resource.id)).size).toBe(1);
  });

  it('conditions locked up front for a whole Bundle serialise concurrent transactions as per-interaction locks do', async () => {
    const locks: string[] = [];
    const seen = (q: { sql: string }) => { if (/advisory|fhir_write_locks/i.test(q.sql)) locks.push(q.sql); };
    const run = (mrns: string[]) => fx.repository().transaction(async (tx) => {
      await tx.prepareConditions?.(mrns.map((m) => `Patient?identifier=${MRN}|${m}`));
      const created: boolean[] = [];
      // Another order than the locks' (which are sorted): each create finds its lock held.
      for (const m of mrns) created.push((await tx.create(withMrn('锁', m), { ifNoneExist: `identifier=${MRN}|${m}` })).created);
      return created;
    });
    fx.db.on('query', seen);
    try {
      expect(await run(['S1', 'S2', 'S3'])).toEqual([true, true, true]);
    } finally {
      fx.db.off('query', seen);
    }
    // PostgreSQL: one statement for the three; MariaDB: a lock row per condition (insert, delete); SQLite's one
    // writer needs none.
    expect(locks).toHaveLength(kind === 'postgres' ? 1 : kind === 'mysql' ? 6 : 0);
    // InnoDB may still pick a deadlock victim among lock-row inserters of one key; its transaction is run again, as
    // the channel's queue would.
    const again = async (mrns: string[]): Promise<boolean[]> => {
      for (;;) {
        try {
          return await run(mrns);
        } catch (err) {
          if (kind !== 'mysql' || !/deadlock/i.test(String(err))) throw err;
        }
      }
    };
    const results = await Promise.all([['T1', 'T2', 'T3'], ['T3', 'T1', 'T2'], ['T2', 'T3', 'T1']].map(again));
    expect(results.flat().filter(Boolean)).toHaveLength(3);
    for (const m of ['T1', 'T2', 'T3']) {
      const found = await fx.repository().search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${MRN}|${m}` }] });
      expect(found.resources).toHaveLength(1);
    }
  });

  describe('conditions read ahead for a Bundle (prepareConditions)', () => {
    const condition = (mrn: string) => `Patient?identifier=${MRN}|${mrn}`;
    const ifNone = (mrn: string) => ({ ifNoneExist: `identifier=${MRN}|${mrn}` });
    /** The searches of fhir_resources the work runs (knex's query events; writes on SQLite bypass knex). */
    async function searchesDuring<T>(work: () => Promise<T>): Promise<{ result: T; searches: string[] }> {
      const searches: string[] = [];
      const seen = (q: { sql: string }) => { if (/^select/i.test(q.sql.trim()) && q.sql.includes('fhir_resources')) searches.push(q.sql); };
      fx.db.on('query', seen);
      try {
        return { result: await work(), searches };
      } finally {
        fx.db.off('query', seen);
      }
    }

    it('reads every condition in one statement, and each conditional create and update uses what it matched', async () => {
      const { resource: existing } = await fx.repository().create(withMrn('预', 'RA1'));
      const { result, searches } = await searchesDuring(() => fx.repository().transaction(async (tx) => {
        await tx.prepareConditions?.(['RA1', 'RA2', 'RA3'].map(condition));
        const a = await tx.create(withMrn('预', 'RA1'), ifNone('RA1'));
        const b = await tx.create(withMrn('预', 'RA2'), ifNone('RA2'));
        const c = await tx.conditionalUpdate({ ...withMrn('预', 'RA3'), gender: 'female' }, `identifier=${MRN}|RA3`);
        return [a, b, c];
      }));
      expect(searches).toHaveLength(1);
      // PostgreSQL answers conditions on identifiers with one lookup (identifier-lookup.ts), the others with a union.
      expect(searches[0]).toMatch(kind === 'postgres' ? /unnest/i : /union all/i);
      expect(result.map((r) => r.created)).toEqual([false, true, true]);
      expect(result[0].resource.id).toBe(existing.id);
    });

    it('searches again for a condition that a write earlier in the transaction may match', async () => {
      const { result, searches } = await searchesDuring(() => fx.repository().transaction(async (tx) => {
        await tx.prepareConditions?.(['RB1', 'RB2'].map(condition));
        const plain = await tx.create(withMrn('预', 'RB1'));
        const again = await tx.create(withMrn('预', 'RB1'), ifNone('RB1'));
        const other = await tx.create(withMrn('预', 'RB2'), ifNone('RB2'));
        return { plain, again, other };
      }));
      expect(result.again).toEqual({ resource: result.plain.resource, created: false });
      expect(result.other.created).toBe(true);
      // The read-ahead, then RB1's own search; RB2's match was not touched by a Patient of another identifier.
      expect(searches).toHaveLength(2);
    });

    it('forgets a match that the transaction updates away from the condition or deletes', async () => {
      const repo = fx.repository();
      const { resource: moved } = await repo.create(withMrn('预', 'RC1'));
      const { resource: gone } = await repo.create(withMrn('预', 'RC2'));
      const created = await repo.transaction(async (tx) => {
        await tx.prepareConditions?.(['RC1', 'RC2'].map(condition));
        await tx.update({ ...moved, identifier: [{ system: MRN, value: 'RC9' }] });
        await tx.delete('Patient', gone.id!);
        return [(await tx.create(withMrn('预', 'RC1'), ifNone('RC1'))).created, (await tx.create(withMrn('预', 'RC2'), ifNone('RC2'))).created];
      });
      expect(created).toEqual([true, true]);
    });

    it('leaves a condition that is not a valid search to its interaction, and several matches still answer 412', async () => {
      const repo = fx.repository();
      await repo.create(withMrn('预', 'RD1'));
      await repo.create(withMrn('预', 'RD1'));
      const outcome = repo.transaction(async (tx) => {
        await tx.prepareConditions?.([condition('RD1'), 'Patient?birthdate=not-a-date', condition('RD2')]);
        return tx.create(withMrn('预', 'RD1'), ifNone('RD1'));
      });
      expect(await statusOf(outcome)).toBe(412);
      const invalid = repo.transaction(async (tx) => {
        await tx.prepareConditions?.([condition('RD2'), 'Patient?birthdate=not-a-date', condition('RD3')]);
        return tx.create(withMrn('预', 'RD2'), { ifNoneExist: 'birthdate=not-a-date' });
      });
      expect(await statusOf(invalid)).toBe(400);
    });
  });

  it('conditional update with no match creates, with a server id when the body has none', async () => {
    const { resource, created } = await fx.repository().conditionalUpdate(withMrn('钱', 'E1'), `identifier=${MRN}|E1`);
    expect(created).toBe(true);
    expect(resource.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('conditional update with one match updates that resource', async () => {
    const repo = fx.repository();
    const { resource: first } = await repo.create(withMrn('孙', 'F1'));
    const { resource, created } = await repo.conditionalUpdate({ ...withMrn('孙', 'F1'), gender: 'male' }, `identifier=${MRN}|F1`);
    expect(created).toBe(false);
    expect(resource).toMatchObject({ id: first.id, gender: 'male', meta: { versionId: '2' } });
  });

  it('conditional update whose body id differs from the match answers 400', async () => {
    const repo = fx.repository();
    await repo.create(withMrn('周', 'G1'));
    expect(await statusOf(repo.conditionalUpdate({ ...withMrn('周', 'G1'), id: 'someone-else' }, `identifier=${MRN}|G1`))).toBe(400);
  });

  it('conditional update matching several resources answers 412', async () => {
    const repo = fx.repository();
    await repo.create(withMrn('吴', 'H1'));
    await repo.create(withMrn('吴', 'H1'));
    expect(await statusOf(repo.conditionalUpdate(withMrn('吴', 'H1'), `identifier=${MRN}|H1`))).toBe(412);
  });
});
