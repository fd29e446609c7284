import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Knex } from 'knex';
import knexFactory from 'knex';
import { openDatabase } from '../../engine/db';

/**
 * Every test run gets its own database, so parallel runs (two CI jobs, two jest workers) never collide.
 * PostgreSQL and MariaDB are the machine's real servers (see .ci/run).
 */
export interface TestDatabase {
  name: 'sqlite' | 'postgres' | 'mysql';
  url: string;
  open(): Knex;
  drop(): Promise<void>;
}

const PG_ADMIN = process.env.LINGSHU_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MY_ADMIN = process.env.LINGSHU_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test';

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export async function createTestDatabase(kind: TestDatabase['name']): Promise<TestDatabase> {
  const name = uniqueName('lingshu_t');
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-'));
    const url = `sqlite:${path.join(dir, 'test.db')}`;
    return { name: kind, url, open: () => openDatabase(url), drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  if (kind === 'postgres') {
    const admin = knexFactory({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
    await admin.raw(`CREATE DATABASE ${name}`);
    await admin.destroy();
    const u = new URL(PG_ADMIN);
    u.pathname = `/${name}`;
    const url = u.toString();
    return {
      name: kind, url, open: () => openDatabase(url),
      drop: async () => {
        const a = knexFactory({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
        await a.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await a.destroy();
      },
    };
  }
  const admin = openDatabase(MY_ADMIN, { pool: 1 });
  await admin.raw(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.destroy();
  const u = new URL(MY_ADMIN);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    name: kind, url, open: () => openDatabase(url),
    drop: async () => {
      const a = openDatabase(MY_ADMIN, { pool: 1 });
      await a.raw(`DROP DATABASE IF EXISTS ${name}`);
      await a.destroy();
    },
  };
}

export const ALL_DATABASES: TestDatabase['name'][] = ['sqlite', 'postgres', 'mysql'];
export const RABBIT_URL = process.env.LINGSHU_TEST_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';
