import { Knex } from 'knex';
import { PgStatisticsKeeper } from '../../engine/pg-statistics';
import { createTestDatabase, TestDatabase } from '../support/databases';

/**
 * The CI machine's PostgreSQL runs with autovacuum off, as some hospitals' do: without the keeper a table that grew
 * after its creation is planned as if `id = ANY(…)` matched a quarter of it.
 */
describe('PgStatisticsKeeper on postgres', () => {
  let tdb: TestDatabase;
  let db: Knex;
  const log = { warn: jest.fn() };

  beforeAll(async () => {
    tdb = await createTestDatabase('postgres');
    db = tdb.open();
    // The message store's shape: the key's first column alone is not unique.
    await db.raw('CREATE TABLE stages (message_id varchar(64), name varchar(64), body text, PRIMARY KEY (message_id, name))');
    await db.raw(`INSERT INTO stages SELECT 'm' || i, s, repeat('x', 200) FROM generate_series(1, 20000) AS i, unnest(ARRAY['source', 'fhir']) AS s`);
  });

  afterAll(async () => {
    await db.destroy();
    await tdb.drop();
  });

  const estimate = async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `m${i * 397 + 1}`);
    const res = await db.raw(`EXPLAIN SELECT * FROM stages WHERE message_id IN (${ids.map(() => '?').join(',')})`, ids);
    // The planner's row estimate for 50 keys of 2 rows each: what decides between index probes and a full scan.
    return Number(/rows=(\d+)/.exec((res.rows as { 'QUERY PLAN': string }[])[0]['QUERY PLAN'])![1]);
  };

  it('analyzes a table that changed enough, after which the planner estimates lookups by key right; then leaves it alone', async () => {
    expect(await estimate()).toBeGreaterThan(2_000);
    const keeper = new PgStatisticsKeeper(db, log, { intervalMs: 60_000 });
    // The inserting backend publishes its counters within a second or so.
    let analyzed: string[] = [];
    for (let i = 0; i < 50 && !analyzed.length; i++) {
      analyzed = await keeper.runOnce();
      if (!analyzed.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(analyzed).toEqual(['public.stages']);
    expect(await estimate()).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await keeper.runOnce()).toEqual([]);
    await keeper.stop();
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('leaves a table analyzed a moment ago that changed by a fifth, and analyzes one that changed by more than half', async () => {
    // An idle backend publishes its counters up to 10 s late; forced, they go with the commit. The ANALYZE must come
    // after them to reset them.
    const insert = (prefix: string, n: number) => db.transaction(async (trx) => {
      await trx.raw(`INSERT INTO growing SELECT '${prefix}' || i, 'x' FROM generate_series(1, ${n}) AS i`);
      await trx.raw('SELECT pg_stat_force_next_flush()');
    });
    await db.raw('CREATE TABLE growing (id varchar(64) PRIMARY KEY, body text)');
    await insert('g', 20000);
    await db.transaction(async (trx) => {
      await trx.raw('ANALYZE growing');
      await trx.raw('SELECT pg_stat_force_next_flush()');
    });
    const keeper = new PgStatisticsKeeper(db, log, { intervalMs: 60_000 });
    const settle = async (): Promise<string[]> => {
      // The counters reach pg_stat_user_tables within a second or so.
      for (let i = 0; i < 15; i++) {
        const analyzed = (await keeper.runOnce()).filter((t) => t === 'public.growing');
        if (analyzed.length) return analyzed;
        await new Promise((r) => setTimeout(r, 100));
      }
      return [];
    };
    // Past autovacuum's 10% rule, but analyzed less than a minute ago (and beside autovacuum, its to take).
    await insert('h', 4000);
    expect(await settle()).toEqual([]);
    await insert('k', 30000);
    const autoanalyzed = async () => String((await db.raw(`SELECT last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'growing'`)).rows[0].last_autoanalyze);
    const before = await autoanalyzed();
    const analyzed = await settle();
    // Unless autovacuum got there first in the same second, the keeper analyzed it.
    if ((await autoanalyzed()) === before) expect(analyzed).toEqual(['public.growing']);
    await keeper.stop();
  });

  it('removes dead rows itself only where autovacuum is off', async () => {
    const autovacuumOff = (await db.raw(`SELECT current_setting('autovacuum') = 'off' AS off`)).rows[0].off as boolean;
    await db.raw(`DELETE FROM stages WHERE message_id LIKE 'm1%'`);
    const keeper = new PgStatisticsKeeper(db, log);
    const vacuumed = async () => (await db.raw(`SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'stages'`)).rows[0].last_vacuum;
    let analyzed: string[] = [];
    for (let i = 0; i < 50 && !analyzed.length; i++) {
      analyzed = await keeper.runOnce();
      if (!analyzed.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(analyzed).toEqual(['public.stages']);
    if (autovacuumOff) expect(await vacuumed()).not.toBeNull();
    else expect(await vacuumed()).toBeNull();
    await keeper.stop();
  });
});
