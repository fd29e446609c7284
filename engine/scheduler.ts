import { Cron } from 'croner';
import { Knex } from 'knex';
import { isUniqueViolation } from './db';
import { maskText } from './log-masking';
import { childLogger } from './logger';
import { runMigrations } from './migrations';

/**
 * Cron-triggered jobs (polling sources, batch channels, housekeeping) for an engine that may run as several nodes
 * on one database. Every node schedules every job; the database decides which node runs a given fire:
 *
 * - `lingshu_schedule_runs` has one row per (schedule, fire time). The fire time is croner's scheduled time
 *   truncated to the second, never the wall clock at the moment the timer ran, so that all nodes compute the
 *   same key and the primary key lets exactly one of them record (and run) the fire.
 * - `lingshu_schedule_locks` holds a lease per schedule for the length of a run. A poll that takes longer than
 *   its interval must not be started again on another node while it is still going (croner's `protect` only
 *   covers the local process), so a fire that came due while the lease was held is skipped everywhere — also on a
 *   node whose timer ran late, after the run had ended: a released lease keeps the release time as its
 *   `locked_until`, and a fire takes the lease only if that is not later than the fire's own time. The lease is
 *   short (`leaseMs`, 60 s) and renewed while the job runs (a heartbeat every third of it), so that a node killed
 *   mid-run frees the schedule within one lease; renewal stops at `maxRunMs`, so that a job hung on a live node does
 *   not block the schedule forever either.
 *
 * Lease times are the nodes' own clocks (epoch ms): portable across the five dialects, at the price that node
 * clocks must agree to well under `maxRunMs` — they must agree to under a second anyway for fire times to match.
 */

const RUNS = 'lingshu_schedule_runs';
const LOCKS = 'lingshu_schedule_locks';
const DEFAULT_MAX_RUN_MS = 10 * 60_000;
const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_RETAIN_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
const MAX_ERROR_CHARS = 4000;

export interface SchedulerLog {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

export interface SchedulerOptions {
  /** Unique per engine node; recorded with each run. */
  nodeId: string;
  logger?: SchedulerLog;
  /** How long run history is kept (default 7 days); every-second polls would otherwise grow the table forever. */
  retainRunsMs?: number;
}

export interface ScheduleOptions {
  /** IANA zone for the cron pattern (e.g. Asia/Shanghai); default the process zone. */
  timezone?: string;
  /**
   * How long a run may hold the schedule (default 10 min): its lease is renewed until then, and no longer, so that a
   * hung job lets the next fires run elsewhere.
   */
  maxRunMs?: number;
  /**
   * How long the schedule stays held without news from the running node (default 60 s): the heartbeat renews it
   * every third of this while the job runs, and a killed node's lease runs out this long after its last renewal.
   */
  leaseMs?: number;
}

/** What a job is told about the fire it runs for. */
export interface RunContext {
  schedule: string;
  fireTime: Date;
  nodeId: string;
}

export type ScheduledJob = (run: RunContext) => Promise<void>;

export type RunStatus = 'running' | 'ok' | 'error';

export interface ScheduleRun {
  schedule: string;
  fireTime: string;
  nodeId: string;
  startedAt: string;
  finishedAt: string | null;
  /** 'running' also remains on a run whose node died; its lease expiry is what lets the schedule go on. */
  status: RunStatus;
  error: string | null;
}

export interface ScheduleHealth {
  name: string;
  pattern: string;
  nextRun: string | null;
  running: boolean;
  /** Last failure of the scheduler itself (database unreachable …) on this node, cleared by the next good fire. */
  lastError: string | null;
}

/** This node's hold on a schedule: `until` is both the expiry and the token that renewal and release compare. */
interface Lease {
  until: number;
  started: number;
  renewing: Promise<void>;
}

interface Entry {
  name: string;
  pattern: string;
  cron: Cron;
  job: ScheduledJob;
  maxRunMs: number;
  leaseMs: number;
  running: boolean;
  lastError: string | null;
  lastPrune: number;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: SchedulerLog;
  private readonly nodeId: string;
  private readonly retainRunsMs: number;
  private stopped = false;

  constructor(private readonly db: Knex, options: SchedulerOptions) {
    if (!options.nodeId) throw new Error('Scheduler: nodeId is required');
    this.nodeId = options.nodeId;
    this.retainRunsMs = options.retainRunsMs ?? DEFAULT_RETAIN_MS;
    this.log = options.logger ?? childLogger({ component: 'scheduler', nodeId: options.nodeId });
  }

  async migrate(): Promise<void> {
    // Two steps so that a failure in the second does not leave a half-applied step that cannot be re-run.
    await runMigrations(this.db, 'scheduler', [
      async (db) => {
        await db.schema.createTable(RUNS, (t) => {
          t.string('schedule', 191).notNullable(); // 191: utf8mb4 key length limit of older MySQL
          t.string('fire_time', 30).notNullable(); // ISO-8601 UTC: identical on every node and dialect, sortable
          t.string('node_id', 128).notNullable();
          t.string('started_at', 30).notNullable();
          t.string('finished_at', 30).nullable();
          t.string('status', 16).notNullable();
          t.text('error').nullable();
          t.primary(['schedule', 'fire_time']);
        });
      },
      async (db) => {
        await db.schema.createTable(LOCKS, (t) => {
          t.string('schedule', 191).primary();
          t.string('owner', 128).nullable();
          t.bigInteger('locked_until').notNullable().defaultTo(0);
        });
      },
    ]);
  }

  /** Registers (or replaces) a job. Throws on an invalid pattern, so a bad channel definition fails its deploy. */
  schedule(name: string, pattern: string, job: ScheduledJob, opts: ScheduleOptions = {}): void {
    if (this.stopped) throw new Error('Scheduler: stopped');
    if (!name || name.length > 191) throw new Error(`Scheduler: schedule name must be 1-191 characters: "${name}"`);
    this.unschedule(name);
    // The first fire comes from a timer, so `entry` is assigned by the time the callback reads it.
    let entry!: Entry;
    // No croner `name`: croner keeps named jobs in a process-wide registry, which would make two Scheduler
    // instances (tests, or two engines in one process) collide. `protect` keeps fires of this node from overlapping.
    const cron = new Cron(pattern, { timezone: opts.timezone, protect: true }, (self: Cron) => this.track(this.fire(entry, self)));
    const maxRunMs = opts.maxRunMs ?? DEFAULT_MAX_RUN_MS;
    if (opts.leaseMs !== undefined && !(opts.leaseMs >= 300)) throw new Error(`Scheduler: leaseMs must be at least 300: ${opts.leaseMs}`);
    entry = { name, pattern, cron, job, maxRunMs, leaseMs: opts.leaseMs ?? DEFAULT_LEASE_MS, running: false, lastError: null, lastPrune: 0 };
    this.entries.set(name, entry);
  }

  /** Stops future fires; a run in progress finishes and is recorded. */
  unschedule(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.cron.stop();
    this.entries.delete(name);
  }

  /** Stops all schedules and waits for runs in progress, so the database can be closed afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const name of [...this.entries.keys()]) this.unschedule(name);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Run history, newest first (for the ops API). */
  async runs(name: string, limit = 100): Promise<ScheduleRun[]> {
    const rows = await this.db(RUNS).where({ schedule: name }).orderBy('fire_time', 'desc').limit(limit);
    return rows.map((r: Record<string, unknown>) => ({
      schedule: String(r.schedule),
      fireTime: String(r.fire_time),
      nodeId: String(r.node_id),
      startedAt: String(r.started_at),
      finishedAt: r.finished_at == null ? null : String(r.finished_at),
      status: String(r.status) as RunStatus,
      error: r.error == null ? null : String(r.error),
    }));
  }

  /** This node's view: ok unless a schedule's last fire failed inside the scheduler (not inside the job). */
  health(): { nodeId: string; ok: boolean; schedules: ScheduleHealth[] } {
    const schedules = [...this.entries.values()].map((e) => ({
      name: e.name,
      pattern: e.pattern,
      nextRun: e.cron.nextRun()?.toISOString() ?? null,
      running: e.running,
      lastError: e.lastError,
    }));
    return { nodeId: this.nodeId, ok: !this.stopped && schedules.every((s) => s.lastError === null), schedules };
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    return p.finally(() => this.inFlight.delete(p));
  }

  /**
   * The scheduled time this trigger belongs to. croner passes no target to the callback and records the wall
   * clock at trigger time (a few ms late, more under load), so the latest pattern match at or before that instant
   * is taken: a node whose timer is 1.2 s late on a minutely job still claims 12:00:00, not 12:00:01.
   */
  private fireTimeOf(cron: Cron): Date {
    const triggered = cron.currentRun() ?? new Date();
    const match = cron.previousRuns(1, new Date(triggered.getTime() + 1))[0] ?? triggered;
    return new Date(Math.floor(match.getTime() / 1000) * 1000);
  }

  private async fire(entry: Entry, cron: Cron): Promise<void> {
    if (this.stopped || this.entries.get(entry.name) !== entry) return;
    const fireTime = this.fireTimeOf(cron);
    const key = fireTime.toISOString();
    const meta = { schedule: entry.name, fireTime: key, nodeId: this.nodeId };
    let lease: Lease | undefined;
    try {
      const started = Date.now();
      const until = await this.acquireLease(entry.name, fireTime.getTime(), Math.min(started + entry.leaseMs, started + entry.maxRunMs));
      if (until === undefined) {
        this.log.debug('schedule fire skipped: lease held by a run in progress when the fire came due', meta);
        entry.lastError = null;
        return;
      }
      lease = { until, started, renewing: Promise.resolve() };
      if (!(await this.claimFire(entry.name, key))) {
        this.log.debug('schedule fire skipped: already run by another node', meta);
        entry.lastError = null;
        return;
      }
      entry.lastError = null;
      await this.execute(entry, { schedule: entry.name, fireTime, nodeId: this.nodeId }, key, lease);
      await this.pruneHistory(entry);
    } catch (err) {
      entry.lastError = (err as Error).message;
      this.log.error('scheduler failure', { ...meta, error: err });
    } finally {
      if (lease !== undefined) {
        const held = lease;
        // A renewal still on its way would move the token after the release read it.
        await held.renewing;
        await this.releaseLease(entry.name, held.until).catch((err) =>
          this.log.warn('schedule lease release failed; it expires by itself', { ...meta, error: err }));
      }
    }
  }

  /**
   * The heartbeat: every third of the lease, pushes the expiry on (never past start + maxRunMs). Compare-and-set on
   * the current expiry, so a node whose lease already passed to another node notices and stops instead of taking it
   * back.
   */
  private startHeartbeat(entry: Entry, lease: Lease, meta: object): () => void {
    let lost = false;
    let busy = false;
    const timer = setInterval(() => {
      const next = Math.min(Date.now() + entry.leaseMs, lease.started + entry.maxRunMs);
      // One renewal at a time: a second one sent with the same token would find it moved and think the lease lost.
      if (lost || busy || next <= lease.until) return;
      busy = true;
      lease.renewing = this.db(LOCKS).where({ schedule: entry.name, owner: this.nodeId, locked_until: lease.until })
        .update({ locked_until: next })
        .then((updated: number) => {
          if (updated === 1) lease.until = next;
          else {
            lost = true;
            this.log.warn('schedule lease lost while the job was running; another node may run the next fire', meta);
          }
        }, (err: unknown) => this.log.warn('schedule lease renewal failed; trying again', { ...meta, error: err }))
        .finally(() => { busy = false; });
    }, Math.max(100, Math.floor(entry.leaseMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  private async execute(entry: Entry, ctx: RunContext, key: string, lease: Lease): Promise<void> {
    const meta = { schedule: entry.name, fireTime: key, nodeId: this.nodeId };
    const started = Date.now();
    // Warn when the lease runs out: from then on another node may start the next fire alongside this one.
    const overrun = setTimeout(() => this.log.warn('scheduled job exceeded maxRunMs; its lease has expired', {
      ...meta, maxRunMs: entry.maxRunMs }), Math.max(0, lease.started + entry.maxRunMs - started));
    overrun.unref();
    const stopHeartbeat = this.startHeartbeat(entry, lease, meta);
    entry.running = true;
    let status: RunStatus = 'ok';
    let error: string | null = null;
    try {
      await entry.job(ctx);
    } catch (err) {
      status = 'error';
      error = maskText(String((err as Error)?.stack ?? err)).slice(0, MAX_ERROR_CHARS);
      this.log.warn('scheduled job failed', { ...meta, error: err });
    } finally {
      clearTimeout(overrun);
      stopHeartbeat();
      entry.running = false;
    }
    await this.db(RUNS).where({ schedule: entry.name, fire_time: key })
      .update({ finished_at: new Date().toISOString(), status, error });
    this.log.debug('scheduled job finished', { ...meta, status, ms: Date.now() - started });
  }

  /**
   * Takes the lease when it was free or expired at the fire's due time; returns its expiry (the token for releasing
   * it) or undefined. The conditional UPDATE is the compare-and-set: of two nodes racing, one updates one row, the
   * other none.
   */
  private async acquireLease(schedule: string, dueMs: number, until: number): Promise<number | undefined> {
    const updated = await this.db(LOCKS).where({ schedule }).andWhere('locked_until', '<=', Math.min(dueMs, Date.now()))
      .update({ owner: this.nodeId, locked_until: until });
    if (updated === 1) return until;
    // Look before inserting: a held lease is the common case for slow jobs and a failed INSERT is logged as an
    // error by PostgreSQL's server log on every fire. The unique key still decides a race on the first fire.
    if (await this.db(LOCKS).where({ schedule }).first()) return undefined;
    try {
      await this.db(LOCKS).insert({ schedule, owner: this.nodeId, locked_until: until });
      return until;
    } catch (err) {
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
  }

  /**
   * Only our own lease is released: if it expired and another node took it, the owner/expiry pair differs. The
   * release time stays as the expiry, so that a fire that came due before it is still skipped when it arrives late.
   */
  private async releaseLease(schedule: string, until: number): Promise<void> {
    await this.db(LOCKS).where({ schedule, owner: this.nodeId, locked_until: until })
      .update({ owner: null, locked_until: Math.min(Date.now(), until) });
  }

  /**
   * Records the fire as started by this node; false when another node already ran it (it held the lease, finished
   * and released it before this node got there). Same look-before-insert as for the lease.
   */
  private async claimFire(schedule: string, key: string): Promise<boolean> {
    if (await this.db(RUNS).where({ schedule, fire_time: key }).first()) return false;
    try {
      await this.db(RUNS).insert({ schedule, fire_time: key, node_id: this.nodeId, started_at: new Date().toISOString(),
        status: 'running' });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  private async pruneHistory(entry: Entry): Promise<void> {
    const now = Date.now();
    if (now - entry.lastPrune < PRUNE_EVERY_MS) return;
    entry.lastPrune = now;
    const cutoff = new Date(now - this.retainRunsMs).toISOString();
    await this.db(RUNS).where({ schedule: entry.name }).andWhere('fire_time', '<', cutoff).delete();
  }
}
