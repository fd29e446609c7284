/**
 * Clinical channels benchmark (issue 5): 60% ORU^R01 with 5 OBX, 30% ADT^A04/A08, 10% ORM^O01 over 4 MLLP
 * connections (two from the LIS to lis-results, two from the HIS to his-patients-adt, which takes ADT and ORM) into
 * the real product — dist/main.js, production profile with a privacy key, PostgreSQL (a fresh database) + RabbitMQ
 * (its own prefix), FHIR store mounted — at offered rates and at max. Per message: first byte → ACK at the sender, and first byte → FHIR commit,
 * whose end is the fhir-store stage's updated_at: the destination records it after its transaction committed (an
 * upper bound by the few ms of that status write). Resources written are the new rows of fhir_history (every
 * version, creates and updates). CPU per message per process from /proc. Then, in the same run, the parse-only
 * rate of our HL7 v2 parser beside hl7-standard's (bench/hl7v2-parse.ts). Prints figures; asserts nothing.
 *
 *   npm run bench:clinical       BENCH_SECONDS=300 for the issue's 5 minutes (default 60)
 *   BENCH_RATES=250,500,max      offered messages/s per run, in order (default)
 *   BENCH_WINDOW=32              unacknowledged frames per connection (the listener's maxInFlight)
 *   BENCH_PATIENTS=5000          size of the patient pool the messages draw from
 *   BENCH_CPU_PROF=/tmp/prof     the engine writes a V8 CPU profile there (node --cpu-prof)
 *   BENCH_SPLIT=1                two product processes on the same database and broker: one with engine.roles
 *                                ingest (the MLLP listeners and ACKs), one with deliver (the FHIR writes)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { Knex } from 'knex';
import { openDatabase } from '../engine/db';
import { mixMessage } from './clinical-mix';
import { compareParsers, standardCases } from './hl7v2-parse';
import { runLoad, type LoadResult } from './mllp-load';
import { cpuSeconds, freePort, removeQueues, startProduct, stopProduct } from './product-process';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const RATES = (process.env.BENCH_RATES ?? '250,500,max').split(',').map((r) => (r.trim() === 'max' ? 'max' as const : Number(r)));
const WINDOW = Number(process.env.BENCH_WINDOW ?? 32);
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 5000);
const PG_ADMIN = process.env.LINGSHU_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AMQP = process.env.LINGSHU_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';
const CPU_PROF = process.env.BENCH_CPU_PROF;
const SPLIT = process.env.BENCH_SPLIT === '1';
const CHANNELS = ['lis-results', 'his-patients-adt'];

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function historyCounts(db: Knex): Promise<Record<string, number>> {
  const rows: { resource_type: string; n: string }[] = await db('fhir_history').select('resource_type').count({ n: '*' }).groupBy('resource_type');
  return Object.fromEntries(rows.map((r) => [r.resource_type, Number(r.n)]));
}

interface Commit { correlation_id: string; status: string; updated_at: string }

/** Waits until every destination stage of the run's messages has settled (sent or error), then reads them. */
async function commits(db: Knex, sinceMs: number, timeoutMs = 900_000): Promise<Commit[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = Number((await db('lingshu_message_stages').where('received_at', '>=', sinceMs).where('kind', 'destination').whereIn('status', ['pending', 'queued']).count({ n: '*' }))[0].n);
    if (open === 0) break;
    if (Date.now() > until) throw new Error(`${open} messages still not in the FHIR store after ${timeoutMs / 1000} s`);
    // Seldom: the count scans the run's stages, and its CPU lands in the PostgreSQL figure (0.16 ms per message at
    // 250 ms). The commit times come from the stages' own timestamps, not from when this loop saw them.
    await new Promise((r) => setTimeout(r, 1000));
  }
  return db('lingshu_messages as m')
    .join('lingshu_message_stages as s', (j) => j.on('s.message_id', 'm.id').andOn('s.received_at', 'm.received_at'))
    .where('m.received_at', '>=', sinceMs).where('s.name', 'fhir-store')
    .select('m.correlation_id', 's.status', 's.updated_at');
}

interface Row { offered: string; load: LoadResult; commits: Commit[]; resources: Record<string, number>; cpu: Record<string, number> }

async function measure(db: Knex, enginePid: number | Record<string, number>, ports: { lis: number; his: number }, offered: number | 'max', seconds: number): Promise<Row> {
  const before = await historyCounts(db);
  const cpu0 = cpuSeconds(enginePid);
  const since = Date.now() - 5;
  const load = await runLoad({ ports, offered, seconds, window: WINDOW, patients: PATIENTS, run: randomBytes(3).toString('hex') });
  const done = await commits(db, since);
  const cpu1 = cpuSeconds(enginePid);
  const after = await historyCounts(db);
  const resources = Object.fromEntries(Object.keys(after).map((t) => [t, after[t] - (before[t] ?? 0)]).filter(([, n]) => n));
  const cpu = Object.fromEntries(Object.keys(cpu1).map((k) => [k, ((cpu1[k] - (cpu0[k] ?? 0)) * 1000) / Math.max(1, load.sent.length)]));
  return { offered: offered === 'max' ? 'max' : `${offered}/s`, load, commits: done, resources, cpu };
}

const ms = (n: number) => (Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(1) : String(Math.round(n)));

function report(r: Row): void {
  const { sent, startedWall } = r.load;
  const acked = sent.filter((s) => s.ackCode !== undefined);
  const aa = acked.filter((s) => s.ackCode === 'AA');
  const ack = acked.map((s) => s.ackMs!).sort((a, b) => a - b);
  const sentAt = new Map(sent.map((s) => [s.controlId, s.wallSent]));
  const committed = r.commits.filter((c) => c.status === 'sent' && sentAt.has(c.correlation_id));
  const toCommit = committed.map((c) => Number(c.updated_at) - sentAt.get(c.correlation_id)!).sort((a, b) => a - b);
  // A loop, not Math.max(...): a five-minute run commits more values than a call takes arguments.
  const lastCommit = committed.reduce((m, c) => Math.max(m, Number(c.updated_at)), -Infinity);
  const written = Object.values(r.resources).reduce((a, b) => a + b, 0);
  const late = sent.filter((s) => s.lateMs > 10).length;
  const perKind = (['ORU', 'ADT', 'ORM'] as const).map((k) => {
    const a = acked.filter((s) => s.kind === k).map((s) => s.ackMs!).sort((x, y) => x - y);
    return `${k} ${a.length} p99 ${ms(percentile(a, 99))}`;
  }).join(', ');
  console.log(`offered ${r.offered.padEnd(6)} sent ${sent.length} (${Math.round(sent.length / r.load.seconds)}/s, ${late} sent >10 ms behind schedule)  ACKed ${Math.round(acked.length / ((r.load.lastAckWall - startedWall) / 1000))} msg/s (AA ${aa.length}, other ${acked.length - aa.length}, unanswered ${r.load.unanswered})`);
  console.log(`  first byte → ACK          p50 ${ms(percentile(ack, 50))} ms  p99 ${ms(percentile(ack, 99))} ms  max ${ms(ack[ack.length - 1])} ms  (${perKind})`);
  console.log(`  first byte → FHIR commit  p50 ${ms(percentile(toCommit, 50))} ms  p99 ${ms(percentile(toCommit, 99))} ms  committed ${committed.length} at ${Math.round(committed.length / ((lastCommit - startedWall) / 1000))} msg/s, stage errors ${r.commits.filter((c) => c.status === 'error').length}`);
  console.log(`  resources written ${written} at ${Math.round(written / ((lastCommit - startedWall) / 1000))}/s  (${Object.entries(r.resources).map(([t, n]) => `${t} ${n}`).join(', ')})`);
  console.log(`  CPU ms per message: ${Object.entries(r.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
}

async function main(): Promise<void> {
  console.log(`Lingshu clinical channels benchmark — ${SPLIT ? 'ingest and deliver nodes, ' : ''}${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${SECONDS} s per run, window ${WINDOW}/connection, ${PATIENTS} patients, ${new Date().toISOString()}`);
  const dbName = `lingshu_bench_clinical_${process.pid}`;
  const admin = knexFactory({ client: 'pg', connection: PG_ADMIN, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${dbName}`);
  const pgUrl = Object.assign(new URL(PG_ADMIN), { pathname: `/${dbName}` }).toString();
  const prefix = `benchclin${process.pid}`;
  const ports = { lis: await freePort(), his: await freePort() };
  const channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-bench-clinical-'));
  const env = {
    LINGSHU_DB: pgUrl, LINGSHU_BUS: AMQP, LINGSHU_PROFILE: 'production', LINGSHU_RABBITMQ__PREFIX: prefix, LINGSHU_CHANNELS_DIR: channelsDir,
    // Production as a hospital runs it: ID numbers, phones and addresses encrypted in the store.
    LINGSHU_PRIVACY__KEY: randomBytes(32).toString('base64'),
    LINGSHU_HOSPITAL__CHANNELS__LIS_RESULTS__ENABLED: 'true', LINGSHU_HOSPITAL__CHANNELS__LIS_RESULTS__PORT: String(ports.lis),
    LINGSHU_HOSPITAL__CHANNELS__HIS_PATIENTS_ADT__ENABLED: 'true', LINGSHU_HOSPITAL__CHANNELS__HIS_PATIENTS_ADT__PORT: String(ports.his),
  };
  const nodeArgs = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
  const child = await startProduct(SPLIT ? { ...env, LINGSHU_ENGINE__ROLES: 'ingest' } : env, await freePort(), nodeArgs);
  const deliverer = SPLIT ? await startProduct({ ...env, LINGSHU_ENGINE__ROLES: 'deliver' }, await freePort(), nodeArgs) : undefined;
  if (deliverer && process.env.BENCH_NICE) os.setPriority(deliverer.pid!, Number(process.env.BENCH_NICE));
  const pids = deliverer ? { ingest: child.pid!, deliver: deliverer.pid! } : child.pid!;
  const db = openDatabase(pgUrl);
  try {
    // Warm-up, not counted: JIT compilation, pool growth, and the first registrations of the pool's patients.
    await measure(db, pids, ports, 'max', 3);
    // A hospital's store is not new: its tables have statistics, so the product keeps the plans of its statements
    // (prepared-statements.ts plansMayBeKept). On this fresh database that would wait for autovacuum (a minute or
    // more) and the product's next size check (10 s): the first runs would parse and plan every statement.
    await db.raw('ANALYZE');
    await new Promise((r) => setTimeout(r, 10_500));
    await measure(db, pids, ports, 'max', 2);
    for (const offered of RATES) report(await measure(db, pids, ports, offered, SECONDS));
  } finally {
    if (deliverer) await stopProduct(deliverer);
    await stopProduct(child);
    await db.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
    await removeQueues(AMQP, CHANNELS.map((c) => `${prefix}${prefix}.ch.${c}.fhir-store`), [`${prefix}fhir`]);
    fs.rmSync(channelsDir, { recursive: true, force: true });
  }
  console.log(`\nParse only, same run (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}):`);
  const mix = (['ORU', 'ADT', 'ORM'] as const).map((k): [string, string] => {
    const m = mixMessage(k, 0, 'parse', PATIENTS);
    return [`mix ${k} (${(Buffer.byteLength(m.text) / 1024).toFixed(1)} KB)`, m.text];
  });
  compareParsers([...mix, ...standardCases()], Number(process.env.BENCH_MS ?? 1000));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
