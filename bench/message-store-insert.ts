/**
 * Message store write throughput: 100 concurrent callers insert 20,000 messages of 2 KB (source stage + one
 * destination stage carrying the 2 KB output, as the engine writes them) into SQLite and PostgreSQL, then confirm
 * and deliver each destination stage (markQueued + updateStage 'sent'). Prints figures; asserts nothing.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/message-store-insert.js
 *   (or: npx tsx bench/message-store-insert.ts)        BENCH_MESSAGES / BENCH_CONCURRENCY / BENCH_DBS to vary
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { openDatabase } from '../engine/db';
import { KnexMessageStore } from '../engine/message-store/knex-message-store';
import type { NewMessage } from '../engine/message-store/types';
import { backendSeconds } from './pg-backend-cpu';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const DBS = (process.env.BENCH_DBS ?? 'sqlite,postgres').split(',');
const PG_ADMIN = process.env.LINGSHU_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RAW = `MSH|^~\\&|HIS|医院|LIS|检验科|20240301120000||ADT^A01|MSG00001|P|2.5\rPID|1||123456^^^HIS^MR||张三\r`.padEnd(2048, 'x');

function message(): NewMessage {
  const now = Date.now();
  return {
    id: uuidv7(), channelId: 'bench', correlationId: uuidv7(), status: 'queued', contentType: 'application/hl7-v2', encoding: 'utf-8',
    raw: RAW, receivedAt: now, reprocessedFrom: null,
    stages: [
      { name: 'source', kind: 'source', status: 'received', attempts: 1, updatedAt: now },
      { name: 'lis', kind: 'destination', status: 'pending', content: RAW, attempts: 0, updatedAt: now },
    ],
  };
}

async function run<T>(items: T[], work: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Statements sent, CPU ms of this process and of the database's backends, per message, over `work`. */
async function measured(db: Knex, database: string | undefined, work: () => Promise<number>): Promise<{ seconds: number; cost: string }> {
  let statements = 0;
  const count = () => statements++;
  db.on('query', count);
  const cpu0 = process.cpuUsage();
  const pg0 = database ? backendSeconds(database) : 0;
  const seconds = await work();
  const cpu = process.cpuUsage(cpu0);
  const pg = database ? backendSeconds(database) - pg0 : 0;
  db.off('query', count);
  const per = (n: number) => (n / MESSAGES).toFixed(3);
  return { seconds, cost: `${per(statements)} statements, CPU ms ${per((cpu.user + cpu.system) / 1000)} store${database ? ` + ${per(pg * 1000)} PostgreSQL` : ''} per message` };
}

async function bench(label: string, db: Knex, database?: string): Promise<void> {
  const store = new KnexMessageStore(db);
  await store.migrate();
  // warm-up: connections, prepared plans, the day's partition
  await Promise.all(Array.from({ length: 200 }, () => store.insert(message())));
  const before = { ...store.writeStats };
  const messages = Array.from({ length: MESSAGES }, message);
  const inserts = await measured(db, database, () => run(messages, (m) => store.insert(m)));
  const insertSeconds = inserts.seconds;
  const tx = store.writeStats.transactions - before.transactions;
  const updates = await measured(db, database, () => run(messages, async (m) => {
    await store.markQueued([{ messageId: m.id, stage: 'lis' }]);
    await store.updateStage({ messageId: m.id, stage: 'lis', status: 'sent', response: 'AA', attempts: 1 });
  }));
  const updateSeconds = updates.seconds;
  // As the engine writes: each message stored, then its destination stage recorded as sent.
  const flow = Array.from({ length: MESSAGES }, message);
  const pipeline = await measured(db, database, () => run(flow, async (m) => {
    await store.insert(m);
    await store.updateStage({ messageId: m.id, stage: 'lis', status: 'sent', response: 'AA', attempts: 1 });
  }));
  const sample = await store.get(messages[MESSAGES - 1].id);
  if (sample?.status !== 'sent') throw new Error(`${label}: expected the last message to be sent, got ${sample?.status}`);
  console.log(
    `${label.padEnd(10)} inserts: ${Math.round(MESSAGES / insertSeconds).toLocaleString('en')}/s ` +
      `(${MESSAGES.toLocaleString('en')} in ${insertSeconds.toFixed(2)} s, ${tx} transactions, ~${Math.round(MESSAGES / tx)} per commit)  ` +
      `markQueued+updateStage: ${Math.round(MESSAGES / updateSeconds).toLocaleString('en')} messages/s\n` +
      `${''.padEnd(10)} inserts: ${inserts.cost}\n${''.padEnd(10)} markQueued+updateStage: ${updates.cost}\n` +
      `${''.padEnd(10)} insert then updateStage, concurrently: ${Math.round(MESSAGES / pipeline.seconds).toLocaleString('en')} messages/s, ${pipeline.cost}`,
  );
  await store.close();
}

async function main(): Promise<void> {
  console.log(`message store: ${MESSAGES.toLocaleString('en')} messages of ${RAW.length} B, concurrency ${CONCURRENCY}`);
  if (DBS.includes('sqlite')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-bench-'));
    const sqlite = openDatabase(`sqlite:${path.join(dir, 'bench.db')}`);
    try {
      await bench('SQLite', sqlite);
    } finally {
      await sqlite.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!DBS.includes('postgres')) return;

  const name = `lingshu_bench_${process.pid}`;
  const admin = knexFactory({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } catch (err) {
    console.log(`PostgreSQL skipped: ${(err as Error).message}`);
    await admin.destroy();
    return;
  }
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  const pg = openDatabase(u.toString());
  try {
    await bench('PostgreSQL', pg, name);
  } finally {
    await pg.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
