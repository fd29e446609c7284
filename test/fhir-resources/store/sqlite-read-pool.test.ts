import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { openDatabase } from '../../../engine/db';
import { SqliteReadPool } from '../../../fhir-resources/store/sqlite-read-pool';
import { openStore, patient, StoreFixture } from './store-fixture';

const DRIVER = require.resolve('better-sqlite3');

describe('SQLite reads on worker threads', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-read-pool-'));
    file = path.join(dir, 'pool.db');
    const db = openDatabase(`sqlite:${file}`, { sqliteReadWorkers: 0 });
    await db.raw('create table t (id integer primary key, name text)');
    await db('t').insert([{ id: 1, name: '张三' }, { id: 2, name: '李四' }]);
    await db.destroy();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers each query of a turn with its own rows, and an error only to the query that caused it', async () => {
    const pool = new SqliteReadPool(file, DRIVER, 2);
    try {
      const [one, both, bad, none] = await Promise.allSettled([
        pool.rows('select name from t where id = ?', [1]),
        pool.rows('select id from t order by id', []),
        pool.rows('select nope from t', []),
        pool.rows('select name from t where id = ?', [99]),
      ]);
      expect(one).toEqual({ status: 'fulfilled', value: [{ name: '张三' }] });
      expect(both).toEqual({ status: 'fulfilled', value: [{ id: 1 }, { id: 2 }] });
      expect(bad.status).toBe('rejected');
      expect((bad as PromiseRejectedResult).reason.message).toMatch(/no such column: nope/);
      expect((bad as PromiseRejectedResult).reason.code).toBe('SQLITE_ERROR');
      expect(none).toEqual({ status: 'fulfilled', value: [] });
    } finally {
      pool.close();
    }
  });

  it('sees what committed before the read was asked', async () => {
    const pool = new SqliteReadPool(file, DRIVER, 1);
    const db = openDatabase(`sqlite:${file}`, { sqliteReadWorkers: 0 });
    try {
      expect(await pool.rows('select count(*) as n from t', [])).toEqual([{ n: 2 }]);
      await db('t').insert({ id: 3, name: '王五' });
      expect(await pool.rows('select name from t where id = 3', [])).toEqual([{ name: '王五' }]);
      await db('t').where({ id: 3 }).del();
    } finally {
      pool.close();
      await db.destroy();
    }
  });

  it('leaves the event loop free while a long query runs', async () => {
    const pool = new SqliteReadPool(file, DRIVER, 1);
    try {
      const long = pool.rows('with recursive c(n) as (select 1 union all select n + 1 from c where n < 3000000) select count(*) as n from c', []);
      const doneAt = long.then(() => Date.now());
      // A timer set now fires while the worker counts; on the main thread the query would have finished first.
      const timerAt = await new Promise<number>((resolve) => setTimeout(() => resolve(Date.now()), 5));
      expect(await long).toEqual([{ n: 3_000_000 }]);
      expect(timerAt).toBeLessThan(await doneAt);
    } finally {
      pool.close();
    }
  });

  it('refuses reads once closed', async () => {
    const pool = new SqliteReadPool(file, DRIVER, 1);
    await pool.rows('select 1 as x', []);
    pool.close();
    await expect(pool.rows('select 1 as x', [])).rejects.toThrow('SQLite read pool closed');
  });
});

describe('the FHIR store on SQLite with read workers', () => {
  let fx: StoreFixture;

  beforeAll(async () => {
    fx = await openStore('sqlite');
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  it('reads by id on the workers what the writer committed', async () => {
    const onWorkers = jest.spyOn(SqliteReadPool.prototype, 'rows');
    const repo = fx.repository();
    const created = await Promise.all(['赵', '钱', '孙'].map(async (family) => (await repo.create(patient(family))).resource));
    const read = await Promise.all(created.map((p) => repo.read<Patient>('Patient', p.id!)));
    expect(read.map((p) => p.name?.[0].family)).toEqual(['赵', '钱', '孙']);
    await repo.update({ ...created[0], active: false });
    expect((await repo.read('Patient', created[0].id!)).meta?.versionId).toBe('2');
    expect(onWorkers).toHaveBeenCalledTimes(4);
    onWorkers.mockRestore();
  });
});
