import type { Knex } from 'knex';
import { SqliteCheckpointer, sqliteFileOf } from '../../engine/sqlite-checkpointer';
import { createTestDatabase, TestDatabase } from '../support/databases';

const silent = { warn: jest.fn(), error: jest.fn() } as unknown as ConstructorParameters<typeof SqliteCheckpointer>[2];

/** The WAL is copied into the database file by the worker thread, not by the committing connection. */
describe('SqliteCheckpointer', () => {
  let tdb: TestDatabase;
  let db: Knex;

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
    db = tdb.open();
    await db.schema.createTable('rows', (t) => { t.increments('id'); t.text('body'); });
  });

  afterAll(async () => {
    await db.destroy();
    await tdb.drop();
  });

  it('checkpoints what the engine connection commits, which itself waits for the fallback threshold', async () => {
    const file = sqliteFileOf(db)!;
    expect(file).toMatch(/test\.db$/);
    const checkpointer = new SqliteCheckpointer(db, file, silent, { intervalMs: 20, fallbackPages: 5_000 });
    await checkpointer.start();
    try {
      const [setting] = await db.raw('pragma wal_autocheckpoint');
      expect(Object.values(setting)[0]).toBe(5_000);
      // About 300 pages: below the fallback, so only the worker can have copied them.
      for (let i = 0; i < 30; i++) await db('rows').insert(Array.from({ length: 10 }, () => ({ body: 'x'.repeat(4_000) })));
      const deadline = Date.now() + 10_000;
      while (checkpointer.stats.frames < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(checkpointer.stats.frames).toBeGreaterThanOrEqual(300);
      // Nothing left for a checkpoint of the engine's own: every frame in the WAL is already in the database file.
      const [state] = await db.raw('pragma wal_checkpoint(PASSIVE)');
      expect(state.busy).toBe(0);
      expect(state.checkpointed).toBe(state.log);
      expect((await db('rows').count({ n: '*' }))[0].n).toBe(300);
    } finally {
      await checkpointer.stop();
    }
  });

  it('names no file for an in-memory database or another dialect', () => {
    const memory = { client: { config: { client: 'better-sqlite3', connection: { filename: ':memory:' } } } } as unknown as Knex;
    const pg = { client: { config: { client: 'pg', connection: 'postgres://x' } } } as unknown as Knex;
    expect(sqliteFileOf(memory)).toBeUndefined();
    expect(sqliteFileOf(pg)).toBeUndefined();
  });
});
