import { Knex } from 'knex';
import { WriteBatcher } from '../../engine/write-batcher';
import { createTestDatabase, TestDatabase } from '../support/databases';

interface Op { value: number; lazy: boolean }

/** Group commit with lazy operations: they wait for an urgent one's batch, or the timer, or a drain. */
describe('WriteBatcher', () => {
  let tdb: TestDatabase;
  let db: Knex;

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
    db = tdb.open();
    await db.schema.createTable('ops', (t) => t.integer('value'));
  });

  afterAll(async () => {
    await db.destroy();
    await tdb.drop();
  });

  const batcher = (lazyMs: number) => new WriteBatcher<Op>(db, {
    maxBatch: 100,
    lazy: (op) => op.lazy,
    lazyMs,
    isolateFailures: true,
    apply: async (trx, ops) => {
      if (ops.some((o) => o.value < 0)) throw new Error('negative value');
      await trx('ops').insert(ops.map((o) => ({ value: o.value })));
    },
  });
  const stored = async (values: number[]) => (await db('ops').whereIn('value', values).pluck('value')).sort((a, b) => a - b);

  it('lazy operations share the commit of the next urgent one', async () => {
    const b = batcher(60_000);
    const lazy = [1, 2, 3].map((value) => b.submit({ value, lazy: true }));
    await b.submit({ value: 4, lazy: false });
    await Promise.all(lazy);
    expect(b.stats).toMatchObject({ transactions: 1, operations: 4 });
    expect(await stored([1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
  });

  it('lazy operations alone are committed when their time is up, together', async () => {
    const b = batcher(20);
    await Promise.all([11, 12].map((value) => b.submit({ value, lazy: true })));
    expect(b.stats).toMatchObject({ transactions: 1, operations: 2 });
    expect(await stored([11, 12])).toEqual([11, 12]);
  });

  it('drain writes waiting lazy operations at once', async () => {
    const b = batcher(60_000);
    const pending = b.submit({ value: 21, lazy: true });
    await b.drain();
    await pending;
    expect(await stored([21])).toEqual([21]);
  });

  it('a bad lazy operation fails alone; the urgent one it rode with is written', async () => {
    const b = batcher(60_000);
    const bad = b.submit({ value: -1, lazy: true });
    const good = b.submit({ value: 31, lazy: false });
    await expect(bad).rejects.toThrow('negative value');
    await good;
    expect(await stored([31])).toEqual([31]);
  });
});
