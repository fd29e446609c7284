import { Knex } from 'knex';

interface Log {
  warn(msg: string, meta?: object): void;
  debug?(msg: string, meta?: object): void;
}

export interface PgStatisticsOptions {
  /** How often the change counters are checked. */
  intervalMs?: number;
  /** A table is analyzed once this many rows changed since its last ANALYZE, plus `scale` of its live rows. */
  threshold?: number;
  scale?: number;
}

/**
 * Keeps the planner statistics of the engine's tables fresh on PostgreSQL without relying on autovacuum, which may
 * be off (it is on the CI machines here, and DBAs turn it off) or behind. Without statistics the planner takes
 * 0.5% of a table per `id = ANY(…)` value: the message store's status recompute for 50 stages then scanned a whole
 * day's partition (20 ms at 55,000 rows, growing all day) instead of 50 index probes (0.4 ms). A new daily partition
 * starts without statistics, so this matters every day, not only after a restore.
 *
 * Same rule as autovacuum's analyze (threshold + scale × live rows changed); ANALYZE waits at most a second for its
 * lock, so a running VACUUM only postpones it to the next check.
 */
export class PgStatisticsKeeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<string[]>;
  private readonly intervalMs: number;
  private readonly threshold: number;
  private readonly scale: number;

  constructor(private readonly db: Knex, private readonly log: Log, options: PgStatisticsOptions = {}) {
    this.intervalMs = options.intervalMs ?? 15_000;
    this.threshold = options.threshold ?? 1_000;
    this.scale = options.scale ?? 0.1;
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
    const res = await this.db.raw(
      `SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables
        WHERE schemaname = ANY (current_schemas(false)) AND n_mod_since_analyze > ?::float8 + ?::float8 * GREATEST(n_live_tup, 0)
        ORDER BY n_mod_since_analyze DESC`,
      [this.threshold, this.scale],
    );
    const stale = (res.rows as { name: string }[]).map((r) => r.name);
    for (const name of stale) {
      try {
        await this.db.transaction(async (trx) => {
          await trx.raw(`SET LOCAL lock_timeout = '1s'`);
          await trx.raw(`ANALYZE ${name}`);
        });
      } catch (err) {
        // Dropped meanwhile (pruning) or locked by a VACUUM: the next check sees it again if it still matters.
        this.log.debug?.('ANALYZE skipped', { table: name, error: (err as Error).message });
      }
    }
    return stale;
  }
}
