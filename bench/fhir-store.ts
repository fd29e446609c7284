/**
 * FHIR store benchmark (issue 3): 100,000 Observations over 1,000 Patients, on SQLite and on PostgreSQL, served by
 * the real product process (dist/main.js) while autocannon runs here, in another process on the same 2 cores.
 * Measures reads by id, the patient-chart search, a create/read/update/delete mix, and the raw ceiling: express
 * answering a SELECT by primary key on the same database with no FHIR layer. Prints figures; asserts nothing.
 *
 *   npm run bench:fhir                                 (BENCH_SECONDS=10 per measurement)
 *   BENCH_DBS=sqlite  BENCH_OBSERVATIONS=20000        smaller or single-database runs
 *   BENCH_ONLY=read,search                            only these measurements (read, search, crud, raw)
 *   BENCH_KEEP=/tmp/fhir-bench                         keep the loaded databases there and reuse them on the next run
 *   BENCH_WARMUP=3                                     seconds of the same load before each measurement, not counted
 *
 * Each line also gives the product's CPU per request (user + system of dist/main.js over the measurement, from
 * /proc), which stays comparable when other work shares the cores; the database's CPU is not included.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import knexFactory from 'knex';
import { cpuSeconds, freePort, productNodeFlags } from './product-process';

const ROOT = path.join(__dirname, '..', '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/**
 * The same load, unmeasured, before each measurement: a freshly started process still compiles its hot paths (V8's
 * optimizing compiler took ~5% of the product's CPU 10 s after start), which is not how a server runs for a day.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 3);
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 1000);
const OBSERVATIONS = Number(process.env.BENCH_OBSERVATIONS ?? 100_000);
const DBS = (process.env.BENCH_DBS ?? 'sqlite,postgres').split(',');
const ONLY = new Set((process.env.BENCH_ONLY ?? 'read,search,crud,raw').split(','));
const KEEP = process.env.BENCH_KEEP;
const PG_ADMIN = process.env.LINGSHU_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CODES = ['718-7', '789-8', '6690-2', '777-3', '2345-7', '2160-0', '1742-6', '1920-8', '2823-3', '2951-2'];
/** Set once the product is up: every request carries the demo issuer's admin token, as a real client would. */
let AUTH: Record<string, string> = {};
const FHIR_JSON = (): Record<string, string> => ({ 'content-type': 'application/fhir+json', ...AUTH });

const AUTH_GET = (): Record<string, string> => ({ ...AUTH });

interface Figures { name: string; rps: number; p50: number; p99: number; errors: number; cpuMs?: number; load: number; otherCpu: string }

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch { /* still starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}

/**
 * The product as `npm start` runs it (demo profile: built-in token issuer), with the simulated hospital moved to free
 * ports so that it cannot collide with anything else on the machine.
 */
async function startProductOnce(dbUrl: string, port: number): Promise<ChildProcess> {
  const channels = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-bench-channels-'));
  const ports = await Promise.all(Array.from({ length: 6 }, freePort));
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the product under load.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...productNodeFlags(), ...nodeArgs, path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: {
      ...process.env, LINGSHU_DB: dbUrl, LINGSHU_PORT: String(port), LINGSHU_LOG_LEVEL: 'warn', LINGSHU_CHANNELS_DIR: channels, LINGSHU_PROFILE: 'demo',
      LINGSHU_SIM_PORT: String(ports[0]), LINGSHU_DEMO_MLLP_PORT: String(ports[1]), LINGSHU_SIM_LIS_PORT: String(ports[2]),
      LINGSHU_SIM_PACS_PORT: String(ports[3]), LINGSHU_SIM_REPRO_LIS_PORT: String(ports[4]), LINGSHU_SIM_HIS_PORT: String(ports[5]),
      // Any free port: the web API peers are not benchmarked, and a fixed port would collide with a running demo.
      LINGSHU_SIM_MEDTECH_BOOKING_PORT: '0', LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT: '0', LINGSHU_SIM_PHARMACY_PORT: '0', LINGSHU_SIM_REGULATOR_PORT: '0', LINGSHU_SIM_SMS_GATEWAY_PORT: '0',
      LINGSHU_SIM_WECHATPAY_PORT: '0', LINGSHU_SIM_ALIPAY_PORT: '0',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitReady(`http://127.0.0.1:${port}/health/ready`, child);
  const res = await fetch(`http://127.0.0.1:${port}/auth/demo/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin' }),
  });
  if (res.status !== 200) throw new Error(`no demo token: ${res.status} ${await res.text()}`);
  AUTH = { authorization: `Bearer ${((await res.json()) as { access_token: string }).access_token}` };
  return child;
}

/**
 * A free port found now can be taken by another socket (an outgoing connection's ephemeral port) before the product
 * binds it; the product then stops with EADDRINUSE, and a new set of ports is tried.
 */
async function startProduct(dbUrl: string): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { child: await startProductOnce(dbUrl, port), port };
    } catch (err) {
      if (attempt >= 3) throw err;
      console.log(`  product did not start (${(err as Error).message}); trying other ports`);
    }
  }
}

async function startRawServer(dbUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, 'raw-select-server.js')], {
    cwd: ROOT, env: { ...process.env, RAW_DB: dbUrl, RAW_PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitReady(`http://127.0.0.1:${port}/ready`, child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function postBundle(base: string, entries: object[]): Promise<string[]> {
  const res = await fetch(`${base}/fhir`, {
    method: 'POST', headers: FHIR_JSON(),
    body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries }),
  });
  if (res.status !== 200) throw new Error(`transaction failed: ${res.status} ${await res.text()}`);
  const bundle = (await res.json()) as { entry: { response: { location: string } }[] };
  // Locations are absolute (`http://…/fhir/Observation/<id>/_history/1`).
  return bundle.entry.map((e) => /([A-Za-z]+)\/([^/]+)\/_history\//.exec(e.response.location)![2]);
}

/**
 * Observation i belongs to patient i mod PATIENTS, so its code cycles with i div PATIENTS: every patient has all ten
 * codes, about ten results each, and a chart search (one patient, one code) finds that patient's history of the test.
 * (Until 2026-11-26 the code cycled with i, which gave each patient one code, so nine searches in ten found nothing.)
 */
function observation(patientId: string, i: number): object {
  const day = new Date(Date.UTC(2024, 0, 1) + (i % 700) * 86_400_000 + (i % 1440) * 60_000).toISOString();
  return {
    resourceType: 'Observation', status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: CODES[Math.floor(i / PATIENTS) % CODES.length] }], text: '血红蛋白' },
    subject: { reference: `Patient/${patientId}` }, effectiveDateTime: day,
    valueQuantity: { value: 100 + (i % 80), unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
  };
}

/** Loads through the product's own transaction endpoint, a few bundles at a time. */
async function load(base: string): Promise<{ patients: string[]; observations: string[] }> {
  const patients: string[] = [];
  for (let i = 0; i < PATIENTS; i += 100) {
    const batch = Array.from({ length: Math.min(100, PATIENTS - i) }, (_, j) => ({
      resource: { resourceType: 'Patient', name: [{ text: `测试${i + j}` }], gender: (i + j) % 2 ? 'male' : 'female', birthDate: '1980-01-01' },
      request: { method: 'POST', url: 'Patient' },
    }));
    patients.push(...(await postBundle(base, batch)));
  }
  const observations: string[] = [];
  const perBundle = 200;
  const started = Date.now();
  for (let i = 0; i < OBSERVATIONS; i += perBundle * 4) {
    const bundles = [0, 1, 2, 3].map((k) => i + k * perBundle).filter((s) => s < OBSERVATIONS).map((start) =>
      postBundle(base, Array.from({ length: Math.min(perBundle, OBSERVATIONS - start) }, (_, j) => ({
        resource: observation(patients[(start + j) % patients.length], start + j),
        request: { method: 'POST', url: 'Observation' },
      }))));
    for (const ids of await Promise.all(bundles)) observations.push(...ids);
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`  loaded ${observations.length} Observations in ${seconds.toFixed(1)} s (${Math.round(observations.length / seconds)}/s through transaction Bundles)`);
  return { patients, observations };
}

function pick<T>(list: T[]): T {
  return list[Math.floor(Math.random() * list.length)];
}

/** User + system CPU of a process so far, in ms (Linux /proc; undefined elsewhere). */
async function measure(name: string, opts: autocannon.Options, server?: ChildProcess): Promise<Figures> {
  if (WARMUP_SECONDS > 0) {
    await autocannon({ connections: CONNECTIONS, duration: WARMUP_SECONDS, ...opts });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const load = os.loadavg()[0];
  const cpuBefore = cpuSeconds(server?.pid ?? -1);
  const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  // Requests still in flight when autocannon stops are finished by the server meanwhile, not in the next measurement.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const cpuAfter = cpuSeconds(server?.pid ?? -1);
  const errors = r.non2xx + r.errors + r.timeouts;
  const perRequest = (who: string): number | undefined =>
    cpuBefore[who] !== undefined && cpuAfter[who] !== undefined && r.requests.total > 0 ? ((cpuAfter[who] - cpuBefore[who]) * 1000) / r.requests.total : undefined;
  const cpuMs = perRequest('engine');
  // The database's and autocannon's share too: on 2 shared cores, what the server saves elsewhere shows up here.
  const otherCpu = ['postgres', 'loadgen'].map((who) => [who, perRequest(who)] as const).filter(([, ms]) => ms !== undefined && ms > 0.005)
    .map(([who, ms]) => `${who} ${ms!.toFixed(2)}`).join(', ');
  const f: Figures = { name, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, errors, cpuMs, load, otherCpu };
  // Printed at once as well, so that a later failure (another database, a port) does not lose what was measured.
  console.log(`  ${name}: ${f.rps} req/s, p50 ${f.p50} ms, p99 ${f.p99} ms, ${errors} errors, CPU ms / request: server ${cpuMs?.toFixed(2) ?? '?'}${otherCpu ? `, ${otherCpu}` : ''}`);
  return f;
}

/**
 * One iteration = create a Patient, an Encounter and 5 Observations referencing them, read them back, update two,
 * delete all seven: 22 requests, each counted in req/s. The ids travel in autocannon's per-connection context.
 */
function crudMix(base: string): autocannon.Options {
  type Ctx = { patient?: string; encounter?: string; obs: string[] };
  // A failed create (non-2xx, counted as an error by autocannon) leaves its id unset; the requests that need it then
  // return nothing from setupRequest, which makes autocannon start the sequence over instead of sending `/undefined`.
  const idOf = (status: number, body: string): string | undefined => {
    if (status < 200 || status > 299) return undefined;
    try {
      return (JSON.parse(body) as { id?: string }).id;
    } catch {
      return undefined;
    }
  };
  const needs = (...ids: Array<string | undefined>): boolean => ids.every((id) => typeof id === 'string');
  const at = (req: autocannon.Request, urlPath: string, id: string | undefined): autocannon.Request =>
    (needs(id) ? { ...req, path: urlPath } : undefined) as autocannon.Request;
  const requests: autocannon.Request[] = [
    {
      method: 'POST', path: '/fhir/Patient', headers: FHIR_JSON(),
      setupRequest: (req, ctx) => { Object.assign(ctx, { obs: [] }); return { ...req, body: JSON.stringify({ resourceType: 'Patient', name: [{ text: '压测患者' }], gender: 'female' }) }; },
      onResponse: (status, body, ctx) => { (ctx as Ctx).patient = idOf(status, body); },
    },
    {
      method: 'POST', path: '/fhir/Encounter', headers: FHIR_JSON(),
      setupRequest: (req, ctx) => (needs((ctx as Ctx).patient) ? { ...req, body: JSON.stringify({ resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' }, subject: { reference: `Patient/${(ctx as Ctx).patient}` } }) } : undefined) as autocannon.Request,
      onResponse: (status, body, ctx) => { (ctx as Ctx).encounter = idOf(status, body); },
    },
    ...Array.from({ length: 5 }, (_, i): autocannon.Request => ({
      method: 'POST', path: '/fhir/Observation', headers: FHIR_JSON(),
      setupRequest: (req, ctx) => (needs((ctx as Ctx).patient, (ctx as Ctx).encounter) ? { ...req, body: JSON.stringify({ ...observation((ctx as Ctx).patient!, i), encounter: { reference: `Encounter/${(ctx as Ctx).encounter}` } }) } : undefined) as autocannon.Request,
      onResponse: (status, body, ctx) => { (ctx as Ctx).obs[i] = idOf(status, body) as string; },
    })),
    { method: 'GET', headers: AUTH_GET(), setupRequest: (req, ctx) => at(req, `/fhir/Patient/${(ctx as Ctx).patient}`, (ctx as Ctx).patient) },
    { method: 'GET', headers: AUTH_GET(), setupRequest: (req, ctx) => at(req, `/fhir/Encounter/${(ctx as Ctx).encounter}`, (ctx as Ctx).encounter) },
    ...Array.from({ length: 5 }, (_, i): autocannon.Request => ({ method: 'GET', headers: AUTH_GET(), setupRequest: (req, ctx) => at(req, `/fhir/Observation/${(ctx as Ctx).obs[i]}`, (ctx as Ctx).obs[i]) })),
    {
      method: 'PUT', headers: FHIR_JSON(),
      setupRequest: (req, ctx) => (!needs((ctx as Ctx).patient) ? undefined as unknown as autocannon.Request : { ...req, path: `/fhir/Patient/${(ctx as Ctx).patient}`, body: JSON.stringify({ resourceType: 'Patient', id: (ctx as Ctx).patient, name: [{ text: '压测患者' }], gender: 'female', birthDate: '1990-05-01' }) }),
    },
    {
      method: 'PUT', headers: FHIR_JSON(),
      setupRequest: (req, ctx) => (!needs((ctx as Ctx).patient, (ctx as Ctx).encounter) ? undefined as unknown as autocannon.Request : { ...req, path: `/fhir/Encounter/${(ctx as Ctx).encounter}`, body: JSON.stringify({ resourceType: 'Encounter', id: (ctx as Ctx).encounter, status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' }, subject: { reference: `Patient/${(ctx as Ctx).patient}` } }) }),
    },
    ...Array.from({ length: 5 }, (_, i): autocannon.Request => ({ method: 'DELETE', headers: AUTH_GET(), setupRequest: (req, ctx) => at(req, `/fhir/Observation/${(ctx as Ctx).obs[i]}`, (ctx as Ctx).obs[i]) })),
    { method: 'DELETE', headers: AUTH_GET(), setupRequest: (req, ctx) => at(req, `/fhir/Encounter/${(ctx as Ctx).encounter}`, (ctx as Ctx).encounter) },
    { method: 'DELETE', headers: AUTH_GET(), setupRequest: (req, ctx) => at(req, `/fhir/Patient/${(ctx as Ctx).patient}`, (ctx as Ctx).patient) },
  ];
  return { url: base, requests };
}

async function benchDatabase(kind: string): Promise<Figures[]> {
  const { dbUrl, cleanup, ids: kept, save } = await benchDatabaseOf(kind);
  const { child: product, port } = await startProduct(dbUrl);
  const base = `http://127.0.0.1:${port}`;
  const out: Figures[] = [];
  try {
    console.log(`${kind}:`);
    const { patients, observations } = kept ?? await load(base);
    if (!kept) save({ patients, observations });
    if (kind === 'postgres') {
      // What autovacuum does a little later in production: fresh statistics after a bulk load, so the planner uses the
      // indexes. And what the checkpointer does within checkpoint_timeout: the load's dirty pages written out, so that
      // the first measurement does not share the disk and the cores with writing them.
      const db = knexFactory({ client: 'pg', connection: dbUrl });
      await db.raw('ANALYZE');
      await db.raw('CHECKPOINT');
      await db.destroy();
    }
    if (ONLY.has('read')) {
      out.push(await measure(`${kind} read by id`, {
        url: base, requests: [{ method: 'GET', headers: AUTH_GET(), setupRequest: (req) => ({ ...req, path: `/fhir/Observation/${pick(observations)}` }) }],
      }, product));
    }
    if (ONLY.has('search')) {
      out.push(await measure(`${kind} search subject+code, _sort=-date, _count=20`, {
        url: base,
        requests: [{ method: 'GET', headers: AUTH_GET(), setupRequest: (req) => ({ ...req, path: `/fhir/Observation?subject=Patient/${pick(patients)}&code=http://loinc.org|${pick(CODES)}&_sort=-date&_count=20` }) }],
      }, product));
    }
    // Creates and deletes its own resources, so a kept database stays as loaded.
    if (ONLY.has('crud')) out.push(await measure(`${kind} CRUD mix`, crudMix(base), product));
    await stop(product);
    if (ONLY.has('raw')) {
      const rawPort = await freePort();
      const raw = await startRawServer(dbUrl, rawPort);
      try {
        out.push(await measure(`${kind} raw ceiling (express + SELECT by PK)`, {
          url: `http://127.0.0.1:${rawPort}`,
          requests: [{ method: 'GET', headers: AUTH_GET(), setupRequest: (req) => ({ ...req, path: `/raw/Observation/${pick(observations)}` }) }],
        }, raw));
      } finally {
        await stop(raw);
      }
    }
  } finally {
    await stop(product);
    await cleanup();
  }
  return out;
}

interface Loaded { patients: string[]; observations: string[] }

interface BenchDatabase {
  dbUrl: string;
  cleanup: () => Promise<void>;
  /** The ids of a database kept from an earlier run of the same size (BENCH_KEEP). */
  ids?: Loaded;
  save: (ids: Loaded) => void;
}

/**
 * A fresh database, or with BENCH_KEEP one kept from an earlier run of the same size (loading 100,000 Observations
 * takes minutes; the measurements do not change what they read).
 */
async function benchDatabaseOf(kind: string): Promise<BenchDatabase> {
  // v2: the codes spread over each patient's Observations (see `observation`); a kept v1 database is not reused.
  const tag = `${kind}_${PATIENTS}_${OBSERVATIONS}_v2`;
  const idsFile = KEEP ? path.join(KEEP, `${tag}.ids.json`) : undefined;
  const ids = idsFile && fs.existsSync(idsFile) ? (JSON.parse(fs.readFileSync(idsFile, 'utf8')) as Loaded) : undefined;
  const save = (loaded: Loaded): void => {
    if (!idsFile) return;
    fs.mkdirSync(path.dirname(idsFile), { recursive: true });
    fs.writeFileSync(idsFile, JSON.stringify(loaded));
  };
  if (kind === 'sqlite') {
    if (KEEP) {
      fs.mkdirSync(KEEP, { recursive: true });
      const file = path.join(KEEP, `${tag}.db`);
      if (!ids) fs.rmSync(file, { force: true });
      return { dbUrl: `sqlite:${file}`, cleanup: async () => {}, ids, save };
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-bench-'));
    return { dbUrl: `sqlite:${path.join(dir, 'bench.db')}`, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }), ids, save };
  }
  const name = KEEP ? `lingshu_bench_keep_${PATIENTS}_${OBSERVATIONS}_v2` : `lingshu_bench_${process.pid}`;
  const admin = knexFactory({ client: 'pg', connection: PG_ADMIN });
  if (KEEP && !ids) await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  if (!KEEP || !ids) await admin.raw(`CREATE DATABASE ${name}`);
  await admin.destroy();
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  const cleanup = async (): Promise<void> => {
    if (KEEP) return;
    const a = knexFactory({ client: 'pg', connection: PG_ADMIN });
    await a.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await a.destroy();
  };
  return { dbUrl: u.toString(), cleanup, ids, save };
}

async function main(): Promise<void> {
  console.log(`FHIR store benchmark: ${OBSERVATIONS} Observations over ${PATIENTS} Patients, ${CONNECTIONS} connections, ${SECONDS} s each, ${os.cpus().length} cores`);
  const all: Figures[] = [];
  for (const kind of DBS) all.push(...(await benchDatabase(kind)));
  console.log('\n| measurement | req/s | p50 ms | p99 ms | errors | server CPU ms / request | other CPU ms / request | load average at start |\n|---|---|---|---|---|---|---|---|');
  for (const f of all) console.log(`| ${f.name} | ${f.rps} | ${f.p50} | ${f.p99} | ${f.errors} | ${f.cpuMs?.toFixed(2) ?? ''} | ${f.otherCpu} | ${f.load.toFixed(1)} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
