import type { Knex } from 'knex';
import { drugDatabaseFeed, hisDictionaryFeed } from '../../../adapters/dictionary/dictionary-clients';
import { dictionarySyncSource } from '../../../adapters/dictionary/dictionary-sync-source';
import { loadMark } from '../../../adapters/database/poller-marks';
import type { InboundMessage, SourceConnector, SourceContext } from '../../../engine/channel/channel';
import { drugDatabasePeer, DrugDatabasePeer } from '../../../simulators/drug-database/drug-database-peer';
import { hisPeer, HisPeer } from '../../../simulators/his/his-peer';
import { createTestDatabase, TestDatabase } from '../../support/databases';

/**
 * The scheduled dictionary source against the simulators over HTTP, its schedules fired by hand: which rows each
 * kind of run hands in, and where its mark stands afterwards.
 */
const KEY = 'sync-source-test-key';

describe('dictionary sync source', () => {
  let database: TestDatabase;
  let db: Knex;
  let drugs: DrugDatabasePeer;
  let his: HisPeer;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    db = database.open();
    drugs = drugDatabasePeer({ port: 0, apiKeys: [KEY] });
    his = hisPeer({ port: 0 });
    await drugs.start();
    await his.start();
  });

  afterAll(async () => {
    await drugs?.stop();
    await his?.stop();
    await db?.destroy();
    await database?.drop();
  });

  /** A source started on a context that records what it is handed and lets the test fire its two schedules. */
  async function started(channelId: string, source: SourceConnector) {
    const accepted: InboundMessage[] = [];
    const jobs: (() => Promise<void>)[] = [];
    const ctx = {
      channelId,
      accept: async (m: InboundMessage) => { accepted.push(m); return { messageId: String(accepted.length), correlationId: m.correlationId ?? '', status: 'queued' as const }; },
      accepting: () => true,
      httpRouter: () => { throw new Error('no HTTP'); },
      schedule: (_cron: string, job: () => Promise<void>) => { jobs.push(job); },
    } as unknown as SourceContext;
    await source.start(ctx);
    const [incremental, full] = jobs;
    const run = async (job: () => Promise<void>) => { accepted.length = 0; await job(); return accepted.map((m) => m.correlationId); };
    return { incremental: () => run(incremental), full: () => run(full), accepted };
  }

  const drugSource = (apiKey = KEY) => dictionarySyncSource(db, {
    feeds: [drugDatabaseFeed({ url: drugs.url, apiKey, pageSize: 8 })], incrementalCron: '* * * * *', fullCron: '0 3 * * *',
  });

  it('reads a feed without a mark in full, then only what changed after the mark', async () => {
    const source = await started('drugs-a', drugSource());
    expect(await source.incremental()).toHaveLength(drugs.drugs.size);
    expect(await loadMark(db, 'drugs-a:drug-database')).toEqual({ value: new Date('2026-11-01T02:00:00+08:00'), key: 'DB0001108' });
    expect(await source.incremental()).toEqual([]);
    drugs.change('DB0000117', { packUnit: '瓶' });
    drugs.change('DB0000208', { status: 'withdrawn' });
    expect(await source.incremental()).toEqual(['drug-database:DB0000117', 'drug-database:DB0000208']);
    expect(await source.incremental()).toEqual([]);
  });

  it('hands in every row on a full run, and leaves the mark where the increments put it', async () => {
    const source = await started('drugs-b', drugSource());
    await source.incremental();
    const mark = await loadMark(db, 'drugs-b:drug-database');
    expect(await source.full()).toHaveLength([...drugs.drugs.values()].filter((d) => !d.deleted).length);
    expect(await loadMark(db, 'drugs-b:drug-database')).toEqual(mark);
  });

  it('hands in a message per row naming its feed, for each of the HIS tables', async () => {
    const base = `${new URL(his.url).origin}/api/dictionary`;
    const source = await started('his-a', dictionarySyncSource(db, {
      feeds: [hisDictionaryFeed('his-charge-items', { url: base, pageSize: 4 }), hisDictionaryFeed('his-drugs', { url: base, pageSize: 4 })],
      incrementalCron: '* * * * *', fullCron: '0 3 * * *',
    }));
    const ids = await source.incremental();
    expect(ids.filter((id) => id?.startsWith('his-charge-items:'))).toHaveLength(his.dictionary.chargeItems.size);
    expect(ids.filter((id) => id?.startsWith('his-drugs:'))).toHaveLength(his.dictionary.drugs.size);
    expect(JSON.parse(String(source.accepted.find((m) => m.correlationId === 'his-charge-items:250101001')!.content))).toMatchObject({ feed: 'his-charge-items', row: { name: '血常规', price: '20.00' } });
  });

  it('fails the run with the database\'s refusal when the API key is wrong, handing in nothing and setting no mark', async () => {
    const source = await started('drugs-c', drugSource('wrong-key'));
    await expect(source.incremental()).rejects.toThrow(/HTTP 401 .*无效的 API Key/);
    expect(source.accepted).toEqual([]);
    expect(await loadMark(db, 'drugs-c:drug-database')).toBeUndefined();
  });
});
