import { Operator } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import * as preparedStatements from '../../../fhir-resources/store/prepared-statements';
import type { IndexTableRows } from '../../../fhir-resources/store/search-index-port';
import { statementsDuring } from './pg-statements';
import { countRows, openStore, patient, StoreFixture } from './store-fixture';

/**
 * Creates, updates and deletes outside a transaction (createAlone / replaceAlone: one statement in autocommit each)
 * that arrive in one turn of the event loop go to PostgreSQL as one statement (alone-batch.ts).
 */
const MRN = 'urn:oid:2.16.156.10011.1.2';
const NOTES = 'alone_batch_notes';
const withMrn = (family: string, mrn: string): Patient => patient(family, { identifier: [{ system: MRN, value: mrn }] });
/** A companion like the audit record: a row per write, whose id the writer wants back. */
const note = (text: string): IndexTableRows => ({ table: NOTES, columns: ['content'], values: [[text]], returning: ['id', 'content'] });
const batched = (texts: string[]) => texts.filter((t) => t.includes('json_to_recordset'));
const single = (texts: string[]) => texts.filter((t) => /^WITH v AS \((INSERT INTO|UPDATE) fhir_resources/.test(t));

describe('versions written alone in one turn, on PostgreSQL', () => {
  let fx: StoreFixture;

  beforeAll(async () => {
    fx = await openStore('postgres', 'real');
    await fx.db.schema.createTable(NOTES, (t) => {
      t.increments('id');
      t.text('content').notNullable();
    });
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  async function mrnIds(mrn: string): Promise<string[]> {
    const result = await fx.repository().search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${MRN}|${mrn}` }] });
    return result.resources.map((r) => r.id as string);
  }

  it('go out as one statement, each with its history, index, outbox row and its own companion rows back', async () => {
    const repo = fx.repository({ context: { correlationId: 'turn-1' } });
    const outboxBefore = await countRows(fx.db, 'fhir_outbox');
    const companions: IndexTableRows[][] = [];
    const { result: created, texts } = await statementsDuring(() => Promise.all(['B1', 'B2', 'B3', 'B4'].map((mrn) =>
      repo.createAlone(withMrn('赵', mrn), (stored) => {
        const rows = [note(`created ${stored.id}`)];
        companions.push(rows);
        return rows;
      }))));
    expect(batched(texts)).toHaveLength(1);
    expect(single(texts)).toHaveLength(0);
    for (const [i, { resource }] of created.entries()) {
      expect(await mrnIds(`B${i + 1}`)).toEqual([resource.id]);
      expect((await repo.history('Patient', resource.id!)).entries).toHaveLength(1);
    }
    // Each writer gets back its own rows, with the ids the database gave them.
    const notes = await fx.db(NOTES).select('id', 'content');
    for (const rows of companions) {
      expect(rows[0].returned).toHaveLength(1);
      const back = rows[0].returned![0];
      expect(notes.find((n) => n.id === back.id)?.content).toBe(rows[0].values[0][0]);
    }
    const events = await fx.db('fhir_outbox').orderBy('seq').offset(outboxBefore).select('resource_id', 'action', 'correlation_id');
    expect(events.map((e) => e.resource_id).sort()).toEqual(created.map((c) => c.resource.id).sort());
    expect(events.every((e) => e.action === 'create' && e.correlation_id === 'turn-1')).toBe(true);
  });

  it('update and delete together; a writer that got in between fails the statement and only its own write is read again', async () => {
    const repo = fx.repository();
    const [a, b, c] = await Promise.all(['U1', 'U2', 'U3'].map(async (mrn) => (await repo.create(withMrn('钱', mrn))).resource));
    const outboxBefore = await countRows(fx.db, 'fhir_outbox');
    // The guard of `a` writes another version of `a` between the store's read and its write; the others wait for it,
    // so that all three writes still arrive in one turn.
    let interfered!: Promise<unknown>;
    const guards = {
      [a.id!]: async () => { interfered ??= repo.update({ ...a, name: [{ family: '插队' }] }); await interfered; },
      [b.id!]: async () => { await new Promise((r) => setImmediate(r)); await interfered; },
      [c.id!]: async () => { await new Promise((r) => setImmediate(r)); await interfered; },
    };
    const { texts } = await statementsDuring(() => Promise.all([
      repo.replaceAlone('Patient', a.id!, { ...a, name: [{ family: '孙' }] }, undefined, guards[a.id!], () => [note(`a ${a.id}`)]),
      repo.replaceAlone('Patient', b.id!, { ...b, name: [{ family: '李' }] }, undefined, guards[b.id!], () => [note(`b ${b.id}`)]),
      repo.replaceAlone('Patient', c.id!, undefined, undefined, guards[c.id!], () => [note(`c ${c.id}`)]),
    ]));
    // The batch failed as a whole (a's compare-and-set), then each went alone: a lost again and read once more.
    expect(batched(texts)).toHaveLength(1);
    expect((await repo.read<Patient>('Patient', a.id!)).meta?.versionId).toBe('3');
    expect((await repo.read<Patient>('Patient', a.id!)).name?.[0].family).toBe('孙');
    expect((await repo.read<Patient>('Patient', b.id!)).meta?.versionId).toBe('2');
    await expect(repo.read('Patient', c.id!)).rejects.toMatchObject({ outcome: expect.anything() });
    // Exactly one history row, outbox event and companion per version written: nothing of the failed statement.
    expect((await repo.history('Patient', a.id!)).entries).toHaveLength(3);
    expect((await repo.history('Patient', b.id!)).entries).toHaveLength(2);
    expect((await repo.history('Patient', c.id!)).entries).toHaveLength(2);
    const events = await fx.db('fhir_outbox').orderBy('seq').offset(outboxBefore).select('resource_id', 'version_id', 'action');
    expect(events.map((e) => `${e.action} ${e.resource_id === a.id ? 'a' : e.resource_id === b.id ? 'b' : 'c'}/${e.version_id}`).sort())
      .toEqual(['delete c/2', 'update a/2', 'update a/3', 'update b/2']);
    expect((await fx.db(NOTES).whereIn('content', [`a ${a.id}`, `b ${b.id}`, `c ${c.id}`])).map((n) => n.content.slice(0, 1)).sort()).toEqual(['a', 'b', 'c']);
    expect(await mrnIds('U3')).toEqual([]);
    expect(await mrnIds('U2')).toEqual([b.id]);
  });

  it('give every writer the error when the connection drops under the statement, without sending any version again', async () => {
    const repo = fx.repository();
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), { code: undefined });
    const pgStatement = preparedStatements.pgStatement;
    const spy = jest.spyOn(preparedStatements, 'pgStatement').mockImplementation((q, sql, params) =>
      (sql.includes('json_to_recordset') ? Promise.reject(lost) : pgStatement(q, sql, params)));
    try {
      const { result, texts } = await statementsDuring(() => Promise.allSettled(['L1', 'L2'].map((mrn) => repo.createAlone(withMrn('吴', mrn), () => []))));
      // Whether the lost statement committed is unknown: sent again, an update could be written twice.
      expect(result.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(result.map((r) => (r as PromiseRejectedResult).reason)).toEqual([lost, lost]);
      expect(single(texts)).toHaveLength(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('send two writes of one resource in one turn one after the other: both land, in some order', async () => {
    const repo = fx.repository();
    const p = (await repo.create(withMrn('周', 'T1'))).resource;
    const none = async () => undefined;
    await Promise.all([
      repo.replaceAlone('Patient', p.id!, { ...p, gender: 'male' }, undefined, none, () => []),
      repo.replaceAlone('Patient', p.id!, { ...p, gender: 'female' }, undefined, none, () => []),
    ]);
    expect((await repo.read<Patient>('Patient', p.id!)).meta?.versionId).toBe('3');
    expect((await repo.history('Patient', p.id!)).entries).toHaveLength(3);
  });
});
