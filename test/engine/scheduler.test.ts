import { Knex } from 'knex';
import { Scheduler, SchedulerLog, RunContext } from '../../engine/scheduler';
import { createTestDatabase, TestDatabase } from '../support/databases';

/**
 * Two scheduler "nodes" on one database, each with its own connection pool, run the same every-second schedules.
 * All scenarios share one ~4 s window per database to keep the suite short.
 */

interface LogLine { level: string; msg: string; meta: Record<string, unknown> }

function captureLog(lines: LogLine[]): SchedulerLog {
  const at = (level: string) => (msg: string, meta: object = {}) => lines.push({ level, msg, meta: meta as Record<string, unknown> });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Call { node: string; fire: string; start: number; end: number }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const EVERY_SECOND = '* * * * * *';

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await sleep(25);
}

describe.each(['sqlite', 'postgres'] as const)('Scheduler on %s', (kind) => {
  let tdb: TestDatabase;
  let dbA: Knex;
  let dbB: Knex;
  let a: Scheduler;
  let b: Scheduler;
  const logs: Record<string, LogLine[]> = { a: [], b: [] };

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    dbA = tdb.open();
    dbB = tdb.open();
    a = new Scheduler(dbA, { nodeId: 'a', logger: captureLog(logs.a) });
    b = new Scheduler(dbB, { nodeId: 'b', logger: captureLog(logs.b) });
    // Sequential: concurrent start-up is runMigrations' concern (engine/migrations.ts), not the scheduler's.
    await a.migrate();
    await b.migrate();
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await dbA?.destroy();
    await dbB?.destroy();
    await tdb?.drop();
  });

  it('runs each fire on one node, records failures, and holds later fires while a run has the lease', async () => {
    const tick: Call[] = [];
    const boom: Call[] = [];
    const long: Call[] = [];
    const expiring: Call[] = [];
    const job = (node: string, calls: Call[], body: (n: number) => Promise<void> = async () => undefined) =>
      async (run: RunContext) => {
        expect(run.nodeId).toBe(node);
        const call = { node, fire: run.fireTime.toISOString(), start: Date.now(), end: 0 };
        calls.push(call);
        try {
          await body(calls.length);
        } finally {
          call.end = Date.now();
        }
      };
    const failFirst = async (n: number) => {
      if (n === 1) throw new Error('first poll failed for patient 450102199003071234');
    };

    for (const [node, s] of [['a', a], ['b', b]] as const) {
      s.schedule('tick', EVERY_SECOND, job(node, tick));
      s.schedule('boom', EVERY_SECOND, job(node, boom, failFirst));
      s.schedule('long', EVERY_SECOND, job(node, long, () => sleep(2500)));
      // A lease shorter than the run: once it expires, another node may start the next fire alongside.
      s.schedule('expiring', EVERY_SECOND, job(node, expiring, () => sleep(2800)), { maxRunMs: 1500 });
    }

    await waitFor(() => expiring.length >= 2, 4500);
    a.unschedule('expiring');
    b.unschedule('expiring');
    await sleep(Math.max(0, long[0].start + 3800 - Date.now())); // past the fire after the first long run
    expect(a.health().ok).toBe(true);
    expect(b.health().ok).toBe(true);
    await Promise.all([a.stop(), b.stop()]); // waits for runs in progress

    // Each fire ran exactly once in total: one row per fire, one job call per row, on consecutive seconds.
    const tickRuns = (await a.runs('tick')).reverse();
    expect(tickRuns.length).toBeGreaterThanOrEqual(3);
    expect(tick.map((c) => c.fire).sort()).toEqual(tickRuns.map((r) => r.fireTime));
    expect(new Set(tick.map((c) => c.fire)).size).toBe(tick.length);
    for (const r of tickRuns) {
      expect(r.status).toBe('ok');
      expect(tick.find((c) => c.fire === r.fireTime)?.node).toBe(r.nodeId);
      expect(r.finishedAt! >= r.startedAt).toBe(true);
      expect(r.fireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    }
    const seconds = tickRuns.map((r) => Date.parse(r.fireTime) / 1000);
    expect(seconds[seconds.length - 1] - seconds[0]).toBe(seconds.length - 1);

    // A job that throws: the run is recorded as an error (masked), and the following fires still run.
    const boomRuns = (await b.runs('boom')).reverse();
    expect(boomRuns.length).toBe(boom.length);
    expect(boomRuns[0].status).toBe('error');
    expect(boomRuns[0].error).toContain('first poll failed for patient 4501**********1234');
    expect(boomRuns.slice(1).length).toBeGreaterThanOrEqual(2);
    expect(boomRuns.slice(1).every((r) => r.status === 'ok' && r.error === null)).toBe(true);

    // The 2.5 s job: the two fires during the run are skipped on both nodes, the next one runs after it.
    const longRuns = (await a.runs('long')).reverse();
    expect(longRuns.length).toBe(long.length);
    expect(long.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < long.length; i++) {
      expect(long[i].start).toBeGreaterThanOrEqual(long[i - 1].end);
      expect(Date.parse(long[i].fire) - Date.parse(long[i - 1].fire)).toBeGreaterThanOrEqual(3000);
    }
    // croner's `protect` holds the running node back; the other node is held back by the lease alone.
    const other = long[0].node === 'a' ? 'b' : 'a';
    const leaseSkips = logs[other].filter((l) => l.meta.schedule === 'long' && /lease held/.test(l.msg));
    expect(leaseSkips.length).toBeGreaterThanOrEqual(1);

    // After the lease expired (1.5 s) the other node started a fire while the 2.8 s run was still going.
    expect(expiring[1].node).not.toBe(expiring[0].node);
    expect(expiring[1].start).toBeLessThan(expiring[0].end);
    expect(logs[expiring[0].node].some((l) => l.level === 'warn' && /exceeded maxRunMs/.test(l.msg))).toBe(true);

    // Both nodes stayed healthy: no scheduler-internal errors, leases released.
    expect([...logs.a, ...logs.b].filter((l) => l.level === 'error')).toEqual([]);
    const locks = await dbA('lingshu_schedule_locks').select();
    expect(locks.map((l: { schedule: string }) => l.schedule).sort()).toEqual(['boom', 'expiring', 'long', 'tick']);
    for (const l of locks) expect(l.owner).toBeNull();
  });

  it('keeps a run\'s short lease alive with its heartbeat for as long as the job runs', async () => {
    // Fresh nodes: the first test stopped a and b.
    const heard: Record<string, LogLine[]> = { c: [], d: [] };
    const c = new Scheduler(dbA, { nodeId: 'c', logger: captureLog(heard.c) });
    const d = new Scheduler(dbB, { nodeId: 'd', logger: captureLog(heard.d) });
    const calls: Call[] = [];
    try {
      for (const [node, s] of [['c', c], ['d', d]] as const) {
        s.schedule('heartbeat', EVERY_SECOND, async (run) => {
          const call = { node, fire: run.fireTime.toISOString(), start: Date.now(), end: 0 };
          calls.push(call);
          await sleep(calls.length === 1 ? 2600 : 0); // the first run outlasts its 600 ms lease four times over
          call.end = Date.now();
        }, { leaseMs: 600 });
      }
      await waitFor(() => calls.length >= 2, 6000);
    } finally {
      await Promise.all([c.stop(), d.stop()]);
    }
    // Without renewal the lease would have run out after 600 ms and a fire would have started beside the first run.
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[1].start).toBeGreaterThanOrEqual(calls[0].end);
    // The other node was kept off by the lease alone (croner's protect only holds back the running node).
    const other = heard[calls[0].node === 'c' ? 'd' : 'c'];
    expect(other.some((l) => l.meta.schedule === 'heartbeat' && /lease held/.test(l.msg))).toBe(true);
    expect([...heard.c, ...heard.d].filter((l) => l.level !== 'debug')).toEqual([]);
    const [lock] = await dbA('lingshu_schedule_locks').where({ schedule: 'heartbeat' }).select();
    expect(lock.owner).toBeNull();
  });

  it('skips a fire that came due during a run even when its node\'s timer brings it only after the run ended', async () => {
    // Late timers cannot be provoked with two nodes in one process, so the triggers are driven by hand: a stand-in
    // for croner's job that reports the due time a late timer would report.
    const heard: Record<string, LogLine[]> = { e: [], f: [] };
    const e = new Scheduler(dbA, { nodeId: 'e', logger: captureLog(heard.e) });
    const f = new Scheduler(dbB, { nodeId: 'f', logger: captureLog(heard.f) });
    const calls: RunContext[] = [];
    const second = Math.ceil(Date.now() / 1000) * 1000;
    const trigger = (s: Scheduler, due: number) => {
      const entry = s['entries'].get('late');
      return s['fire'](entry!, { currentRun: () => new Date(due), previousRuns: () => [new Date(due)] } as never);
    };
    try {
      for (const s of [e, f]) {
        s.schedule('late', '0 0 0 1 1 *', async (run) => {
          calls.push(run);
          if (calls.length === 1) await sleep(1300);
        });
      }
      await sleep(second - Date.now());
      await trigger(e, second); // runs until second + 1.3 s
      await trigger(f, second + 1000); // due during that run, arriving after it
      await sleep(second + 2000 - Date.now());
      await trigger(f, second + 2000); // due after the run: runs
    } finally {
      await Promise.all([e.stop(), f.stop()]);
    }
    expect(calls.map((c) => [c.nodeId, c.fireTime.getTime()])).toEqual([['e', second], ['f', second + 2000]]);
    expect(heard.f.some((l) => l.meta.schedule === 'late' && /lease held/.test(l.msg))).toBe(true);
    expect((await e.runs('late')).map((r) => r.nodeId)).toEqual(['f', 'e']);
  });
});
