/**
 * Pass-through channel benchmark: HTTP source → message store → bus → destination writing a row, 2 KB messages.
 * (a) SQLite + in-process bus, (b) PostgreSQL + RabbitMQ, (c) the same on two nodes (engine.roles ingest and deliver), and the raw RabbitMQ ceiling (amqplib durable publish with
 * confirms + consume with ack, same size, no engine) measured in the same run. Prints figures; asserts nothing.
 *
 *   npm run bench:engine            (BENCH_SECONDS=20 to run longer)
 *   BENCH_STACKS=b                  only some of a, b, c (b split over an ingest and a deliver node), raw
 *   BENCH_RATE=250                  the fixed offered rate of the second run (default 500/s)
 *   BENCH_CPU_PROF=/tmp/prof        the engine writes a V8 CPU profile per stack there (node --cpu-prof);
 *                                   with BENCH_HEAP_PROF=1 a sampling heap profile instead (node --heap-prof)
 *   BENCH_CONNECTIONS=128           autocannon connections of the run at max (default 64)
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import amqp from 'amqplib';
import knexFactory, { Knex } from 'knex';
import { AMQP_SOCKET_OPTIONS, coalesceWrites } from '../engine/bus/amqp-socket';
import { openDatabase } from '../engine/db';
import { pacedLoad } from './http-paced-load';
import { backendSeconds } from './pg-backend-cpu';
import { cpuSeconds, productNodeFlags, removeQueues } from './product-process';

const ROOT = path.join(__dirname, '..', '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const PG_ADMIN = process.env.LINGSHU_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AMQP = process.env.LINGSHU_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';
const STACKS = (process.env.BENCH_STACKS ?? 'a,b,c,raw').split(',');
const RATE = Number(process.env.BENCH_RATE ?? 500);
const CPU_PROF = process.env.BENCH_CPU_PROF;
const BODY = JSON.stringify({ resourceType: 'Observation', note: 'x'.repeat(1960) });
const CHANNEL = `id: bench
source: { type: http }
transformer: passthrough
destinations:
  - name: write-row
    type: table
    table: bench_out
    queue: { maxAttempts: 5, initialDelayMs: 200, concurrency: 256 }
`;

interface Figures {
  offered: string; load: number; accepted: number; commitsPerMessage: number; perSecond: number; p50: number; p99: number; sentP50: number; sentP99: number; acceptP99: number;
  cpu: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function startEngine(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const prof = CPU_PROF ? (process.env.BENCH_HEAP_PROF ? ['--heap-prof', `--heap-prof-dir=${CPU_PROF}`] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`]) : [];
  const child = spawn(process.execPath, [...productNodeFlags(), ...prof, path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT, env: { ...process.env, ...env, LINGSHU_PORT: String(port), LINGSHU_LOG_LEVEL: 'warn', LINGSHU_PROFILE: 'production' }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200) return child;
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('engine did not start');
}

async function drain(db: Knex, expected: number, timeoutMs = 120000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const n = Number((await db('bench_out').count({ n: '*' }))[0].n);
    if (n >= expected) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('messages not all delivered in time');
}

/** Committed transactions of the bench database so far (PostgreSQL), drain polls and cleanup included. */
async function commits(db: Knex, database: string | undefined): Promise<number> {
  if (!database) return 0;
  const res = await db.raw('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()');
  return Number(res.rows[0].xact_commit);
}

function backendCpu(database: string | undefined): Record<string, number> {
  return database ? { 'pg backends of the bench db': backendSeconds(database) } : {};
}

async function run(port: number, db: Knex, enginePid: number | Record<string, number>, offered: 'max' | number, seconds = SECONDS, database?: string): Promise<Figures> {
  // TRUNCATE on PostgreSQL: deleted rows would stay behind as dead tuples where autovacuum is off (as here).
  if (database) await db.raw('TRUNCATE bench_out, lingshu_message_stages, lingshu_messages, lingshu_message_errors');
  else for (const t of ['bench_out', 'lingshu_message_stages', 'lingshu_messages']) await db(t).delete();
  const load = os.loadavg()[0];
  const commits0 = await commits(db, database);
  const cpu0 = { ...cpuSeconds(enginePid), ...backendCpu(database) };
  const started = Date.now();
  const url = `http://127.0.0.1:${port}/channels/bench`;
  const headers = { 'content-type': 'application/json' };
  let accepted: number;
  let acceptP99: number;
  if (offered === 'max') {
    const result = await autocannon({ url, method: 'POST', headers, body: BODY, connections: Number(process.env.BENCH_CONNECTIONS ?? 64), duration: seconds });
    accepted = result['2xx'];
    acceptP99 = result.latency.p99;
  } else {
    // Evenly spaced arrivals: autocannon's rate limit sends each second's quota as one burst.
    const result = await pacedLoad({ url, headers, body: BODY, rate: offered, seconds, connections: 64 });
    accepted = result.ok;
    acceptP99 = Math.round(percentile(result.latencies, 99));
    if (result.failed) console.log(`  ${result.failed} requests failed: ${JSON.stringify(result.failures)}`);
  }
  await drain(db, accepted);
  const cpu1 = { ...cpuSeconds(enginePid), ...backendCpu(database) };
  // PostgreSQL publishes its counters about once a second.
  if (database) await new Promise((r) => setTimeout(r, 1500));
  const commitsPerMessage = ((await commits(db, database)) - commits0) / Math.max(1, accepted);
  // received_at: the engine took the request; written_at: the destination's INSERT was issued; the stage's
  // updated_at: the row had committed and the engine recorded the stage as sent (the conservative end point).
  const rows: { written_at: string | number; received_at: string | number; sent_at: string | number }[] = await db('bench_out as o')
    .join('lingshu_messages as m', 'm.id', 'o.message_id')
    .join('lingshu_message_stages as s', (j) => j.on('s.message_id', 'm.id').andOn('s.received_at', 'm.received_at'))
    .where('s.name', 'write-row')
    .select('o.written_at', 'm.received_at', 's.updated_at as sent_at');
  const lat = rows.map((r) => Number(r.written_at) - Number(r.received_at)).sort((a, b) => a - b);
  const sent = rows.map((r) => Number(r.sent_at) - Number(r.received_at)).sort((a, b) => a - b);
  const last = rows.reduce((m, r) => Math.max(m, Number(r.written_at)), -Infinity);
  const cpu: Record<string, number> = {};
  for (const k of Object.keys(cpu1)) cpu[k] = ((cpu1[k] - (cpu0[k] ?? 0)) * 1000) / Math.max(1, accepted);
  return {
    offered: offered === 'max' ? 'max' : `${offered}/s`, load, accepted, commitsPerMessage, perSecond: Math.round(accepted / ((last - started) / 1000)),
    p50: percentile(lat, 50), p99: percentile(lat, 99), sentP50: percentile(sent, 50), sentP99: percentile(sent, 99), acceptP99, cpu,
  };
}

async function stack(name: string, env: Record<string, string>, openDb: () => Knex, database?: string, split = false): Promise<Figures[]> {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const child = await startEngine(split ? { ...env, LINGSHU_ENGINE__ROLES: 'ingest' } : env, port);
  // (c): a second node on the same database and broker takes the destination queues (engine.roles).
  const deliverer = split ? await startEngine({ ...env, LINGSHU_ENGINE__ROLES: 'deliver' }, port + 1000) : undefined;
  const pids = deliverer ? { ingest: child.pid!, deliver: deliverer.pid! } : child.pid!;
  const db = openDb();
  try {
    // Warm-up, not counted: the first seconds of a fresh process are JIT compilation and pool growth.
    await run(port, db, pids, 'max', 3);
    const out = [await run(port, db, pids, 'max', SECONDS, database), await run(port, db, pids, RATE, SECONDS, database)];
    for (const f of out) {
      const cpu = Object.entries(f.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
      console.log(`${name.padEnd(28)} offered ${f.offered.padEnd(6)} accepted ${String(f.accepted).padStart(7)}  ${String(f.perSecond).padStart(6)} msg/s delivered  accept→row p50 ${f.p50} ms p99 ${f.p99} ms  accept→sent recorded p50 ${f.sentP50} ms p99 ${f.sentP99} ms  (HTTP ack p99 ${f.acceptP99} ms, load average ${f.load.toFixed(1)} at the start)`);
      if (cpu) console.log(`${''.padEnd(28)} CPU ms per message: ${cpu}${f.commitsPerMessage ? `; PostgreSQL commits per message ${f.commitsPerMessage.toFixed(2)}` : ''}`);
    }
    return out;
  } finally {
    for (const c of [deliverer, child]) {
      if (!c) continue;
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    await db.destroy();
  }
}

async function rawRabbit(count = 50000): Promise<number> {
  // The same socket tuning as the engine's connections, so that the ceiling is not a handicapped client.
  const conn = await amqp.connect(AMQP, AMQP_SOCKET_OPTIONS);
  coalesceWrites(conn);
  const ch = await conn.createConfirmChannel();
  const q = `bench.raw.${process.pid}`;
  await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  const body = Buffer.from(BODY);
  const consumer = await conn.createChannel();
  await consumer.prefetch(256);
  let got = 0;
  const started = Date.now();
  const done = new Promise<void>((resolve) => {
    void consumer.consume(q, (m) => {
      if (!m) return;
      consumer.ack(m);
      if (++got === count) resolve();
    });
  });
  // Publish in windows of outstanding confirms, as a careful client would.
  for (let i = 0; i < count; i += 500) {
    for (let j = i; j < Math.min(count, i + 500); j++) ch.publish('', q, body, { persistent: true, messageId: String(j) });
    await ch.waitForConfirms();
  }
  await done;
  const rate = Math.round(count / ((Date.now() - started) / 1000));
  await ch.deleteQueue(q);
  await conn.close();
  return rate;
}

async function main(): Promise<void> {
  console.log(`Lingshu engine pass-through benchmark — ${os.cpus().length} cores, ${SECONDS} s per run, 2 KB JSON bodies`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-bench-'));
  fs.writeFileSync(path.join(dir, 'bench.yaml'), CHANNEL);
  const sqlite = path.join(dir, 'bench.db');
  let embedded: Figures[] = [];
  if (STACKS.includes('a')) {
    embedded = await stack('(a) SQLite + in-process', { LINGSHU_DB: `sqlite:${sqlite}`, LINGSHU_BUS: '', LINGSHU_CHANNELS_DIR: dir }, () => openDatabase(`sqlite:${sqlite}`));
  }
  const production: Record<string, Figures[]> = {};
  for (const [key, name, split] of [['b', '(b) PostgreSQL + RabbitMQ', false], ['c', '(c) (b), ingest + deliver', true]] as const) {
    if (!STACKS.includes(key)) continue;
    const dbName = `lingshu_bench_${key}_${process.pid}`;
    const admin = knexFactory({ client: 'pg', connection: PG_ADMIN });
    await admin.raw(`CREATE DATABASE ${dbName}`);
    const pgUrl = Object.assign(new URL(PG_ADMIN), { pathname: `/${dbName}` }).toString();
    const prefix = `bench${key}${process.pid}`;
    try {
      production[key] = await stack(name, { LINGSHU_DB: pgUrl, LINGSHU_BUS: AMQP, LINGSHU_CHANNELS_DIR: dir, LINGSHU_RABBITMQ__PREFIX: prefix }, () => openDatabase(pgUrl), dbName, split);
    } finally {
      await admin.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.destroy();
      await removeQueues(AMQP, [`${prefix}${prefix}.ch.bench.write-row`]);
    }
  }
  if (STACKS.includes('raw')) {
    const ceiling = await rawRabbit();
    console.log(`raw RabbitMQ ceiling (amqplib, quorum, confirms + acks, no engine): ${ceiling} msg/s`);
    for (const [key, figures] of Object.entries(production)) console.log(`(${key}) / raw ceiling: ${Math.round((figures[0].perSecond / ceiling) * 100)}%`);
  }
  if (embedded.length) console.log(`(a) embedded max: ${embedded[0].perSecond} msg/s`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
