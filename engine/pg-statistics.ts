import { Knex } from 'knex';

interface Log {
  warn(msg: string, meta?: object): void;
  info?(msg: string, meta?: object): void;
  debug?(msg: string, meta?: object): void;
}

/** autovacuum's default share of dead rows before a table is vacuumed. */
const VACUUM_SCALE = 0.2;
/** A table that changed by half since its last ANALYZE is analyzed at the next check, whatever else holds. */
const HALF = 0.5;

export interface PgStatisticsOptions {
  /** How often the change counters are checked. */
  intervalMs?: number;
  /**
   * Where autovacuum is off, a table is analyzed once this many rows changed since its last ANALYZE, plus `scale` of
   * its live rows; beside autovacuum, once half of them changed.
   */
  threshold?: number;
  scale?: number;
  /**
   * A table analyzed less than this long ago waits, unless it changed by half since (a new day partition in its first
   * minutes): autovacuum's own pace (its naptime is a minute). Checking every 15 s with the 10% rule alone, a table
   * that grows fast was analyzed at every check, and ANALYZE was a ninth of the database's CPU under the clinical
   * benchmark's load.
   */
  minIntervalMs?: number;
}

/**
 * Keeps the planner statistics of the engine's tables fresh on PostgreSQL without relying on autovacuum, which may
 * be off (it is on the CI machines here, and DBAs turn it off) or behind. Without statistics the planner takes
 * 0.5% of a table per `id = ANY(…)` value: the message store's status recompute for 50 stages then scanned a whole
 * day's partition (20 ms at 55,000 rows, growing all day) instead of 50 index probes (0.4 ms). A new daily partition
 * starts without statistics, so this matters every day, not only after a restore.
 *
 * Same rules as autovacuum (threshold + scale × live rows changed, or dead), at most once a minute per table unless
 * it changed by half; beside a running autovacuum only for tables that changed by half. Where autovacuum is off nothing else
 * removes dead rows either (every UPDATE and DELETE leaves one, and the message store and outbox churn all day), so
 * the keeper then VACUUMs those tables too.
 */
export class PgStatisticsKeeper {
  private timer?: NodeJS.Timeout;
  /** autovacuum is off, so dead rows are ours to remove too. */
  private vacuums?: boolean;
  private running?: Promise<string[]>;
  private readonly intervalMs: number;
  private readonly threshold: number;
  private readonly scale: number;
  private readonly minIntervalMs: number;

  constructor(private readonly db: Knex, private readonly log: Log, options: PgStatisticsOptions = {}) {
    this.intervalMs = options.intervalMs ?? 15_000;
    this.threshold = options.threshold ?? 1_000;
    this.scale = options.scale ?? 0.1;
    this.minIntervalMs = options.minIntervalMs ?? 60_000;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce().catch((err: Error) => this.log.warn('refreshing planner statistics failed', { error: err.message })), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Analyzes the tables of the current schemas that changed enough; returns their names. */
  runOnce(): Promise<string[]> {
    if (!this.running) this.running = this.analyzeStale().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async analyzeStale(): Promise<string[]> {
    if (this.vacuums === undefined) {
      const res = await this.db.raw(`SELECT current_setting('autovacuum') = 'off' AS off`);
      this.vacuums = Boolean(res.rows[0].off);
      if (this.vacuums) this.log.info?.('autovacuum is off: the engine vacuums and analyzes its own tables');
    }
    const res = await this.db.raw(
      `SELECT format('%I.%I', schemaname, relname) AS name,
              n_mod_since_analyze > ?::float8 + ?::float8 * GREATEST(n_live_tup, 0) AS changed,
              n_mod_since_analyze > ?::float8 + ?::float8 * GREATEST(n_live_tup, 0) AS halved,
              COALESCE(now() - GREATEST(last_analyze, last_autoanalyze) >= make_interval(secs => ?::float8), true) AS due,
              n_dead_tup > ?::float8 + ?::float8 * GREATEST(n_live_tup, 0) AS dead
         FROM pg_stat_user_tables
        WHERE schemaname = ANY (current_schemas(false))
        ORDER BY n_mod_since_analyze DESC`,
      [this.threshold, this.scale, this.threshold, HALF, this.minIntervalMs / 1000, this.threshold, VACUUM_SCALE],
    );
    type Counters = { name: string; changed: boolean; halved: boolean; due: boolean; dead: boolean };
    const done: string[] = [];
    for (const { name, changed, halved, due, dead } of res.rows as Counters[]) {
      // Beside a running autovacuum only a table that changed by half is ours; without it, autovacuum's rule at its pace.
      const stale = halved || (this.vacuums && changed && due);
      // Dead rows only matter where nobody else removes them.
      if (!stale && !(this.vacuums && dead)) continue;
      try {
        // SKIP_LOCKED: a table someone else is vacuuming (or dropping, when pruning) is left for the next check.
        await this.db.raw(this.vacuums && dead ? `VACUUM (ANALYZE, SKIP_LOCKED) ${name}` : `ANALYZE (SKIP_LOCKED) ${name}`);
        done.push(name);
      } catch (err) {
        this.log.debug?.('ANALYZE skipped', { table: name, error: (err as Error).message });
      }
    }
    return done;
  }
}
