import { Knex } from 'knex';

interface Waiter<Op> {
  op: Op;
  lazy: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

export interface WriteBatcherOptions<Op> {
  /** Most operations written in one transaction. */
  maxBatch: number;
  /**
   * Operations whose callers can wait a little (a delivered stage's status, unlike a new message whose sender waits
   * for its acknowledgement): they wait up to `lazyMs` for a batch that an urgent operation starts and share its
   * commit. At moderate load, when every urgent operation makes a batch of its own, each would otherwise pay a commit.
   */
  lazy?(op: Op): boolean;
  lazyMs?: number;
  /** Writes the batch; runs inside the transaction. */
  apply(trx: Knex.Transaction, ops: Op[]): Promise<void>;
  /**
   * A batch that one statement can write, which is atomic by itself, may return that statement's writer here: it
   * runs in autocommit instead of `apply`, sparing the BEGIN and COMMIT round trips (each a socket write and a wake-up
   * of the database process, which cost more than the statement on a busy machine).
   */
  single?(ops: Op[]): ((db: Knex) => Promise<unknown>) | undefined;
  /** Runs before the transaction (e.g. DDL that must not sit inside it). */
  prepare?(ops: Op[]): Promise<void>;
  /** Runs after the commit, before the callers hear of it. */
  committed?(ops: Op[]): void;
  /** True when the whole batch is worth another try (deadlock, missing partition that `prepare` can now create). */
  retryable?(err: unknown): Promise<boolean> | boolean;
  /**
   * When a batch of several operations fails, write each one alone, so that one bad operation fails only its own
   * caller (the batch's other callers did nothing wrong). Off: the whole batch fails together.
   */
  isolateFailures?: boolean;
}

export interface WriteBatcherStats {
  /** Committed transactions. */
  transactions: number;
  /** Operations in committed transactions. */
  operations: number;
  failedTransactions: number;
  largestBatch: number;
}

const MAX_TRIES = 4;

/**
 * Group commit: operations submitted while a transaction is in flight wait and go together in the next one, so the
 * cost of a commit (an fsync on PostgreSQL/MySQL) is shared by everybody who arrived meanwhile. One transaction at a
 * time: batch size then grows with load by itself, and batches never race each other for the same rows.
 * A caller's promise settles only after its transaction committed or failed; a failure fails the whole batch,
 * which was rolled back as a whole.
 */
export class WriteBatcher<Op> {
  // Shared by the message store and the in-process bus: both pay one commit for everybody who arrived meanwhile.
  readonly stats: WriteBatcherStats = { transactions: 0, operations: 0, failedTransactions: 0, largestBatch: 0 };
  private queue: Waiter<Op>[] = [];
  private running?: Promise<void>;
  /** Urgent operations in the queue; lazy ones alone only arm the timer. */
  private urgent = 0;
  private lazyTimer?: NodeJS.Timeout;

  constructor(private readonly db: Knex, private readonly options: WriteBatcherOptions<Op>) {}

  submit(op: Op): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const lazy = Boolean(this.options.lazyMs && this.options.lazy?.(op));
      this.queue.push({ op, lazy, resolve, reject });
      if (lazy) {
        if (!this.running) this.armLazy();
        return;
      }
      this.urgent++;
      if (!this.running) this.running = this.run(false);
    });
  }

  /** Resolves once everything submitted so far is settled, lazy operations included. */
  async drain(): Promise<void> {
    while (this.running || this.queue.length) {
      if (!this.running) this.running = this.run(true);
      await this.running;
    }
  }

  private armLazy(): void {
    if (this.lazyTimer) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = undefined;
      if (!this.running) this.running = this.run(true);
    }, this.options.lazyMs);
  }

  private async run(flushLazy: boolean): Promise<void> {
    try {
      while (this.queue.length && (flushLazy || this.urgent > 0)) {
        flushLazy = false;
        if (this.lazyTimer) clearTimeout(this.lazyTimer);
        this.lazyTimer = undefined;
        // One turn of the event loop lets callers whose previous write just resolved submit their next one, so
        // that they join this batch instead of each starting a small one.
        await new Promise<void>((r) => setImmediate(r));
        const batch = this.queue.splice(0, this.options.maxBatch);
        for (const w of batch) if (!w.lazy) this.urgent--;
        await this.commit(batch);
      }
    } finally {
      this.running = undefined;
      // Only lazy operations are left (an urgent one keeps the loop going): they wait for company or the timer.
      if (this.queue.length) this.armLazy();
    }
  }

  private async commit(batch: Waiter<Op>[]): Promise<void> {
    const ops = batch.map((w) => w.op);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.prepare?.(ops);
        const single = this.options.single?.(ops);
        if (single) await single(this.db);
        else await this.db.transaction((trx) => this.options.apply(trx, ops));
      } catch (err) {
        if (attempt < MAX_TRIES && (await this.isRetryable(err))) continue;
        this.stats.failedTransactions++;
        if (this.options.isolateFailures && batch.length > 1) {
          for (const w of batch) await this.commit([w]);
        } else {
          for (const w of batch) w.reject(err);
        }
        return;
      }
      this.stats.transactions++;
      this.stats.operations += ops.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, ops.length);
      try {
        this.options.committed?.(ops);
      } finally {
        for (const w of batch) w.resolve();
      }
      return;
    }
  }

  private async isRetryable(err: unknown): Promise<boolean> {
    try {
      return Boolean(await this.options.retryable?.(err));
    } catch {
      return false;
    }
  }
}

/** Deadlock / serialization failure: the transaction was rolled back and can simply run again. */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  return e?.code === '40P01' || e?.code === '40001' || e?.errno === 1213 || e?.errno === 1205 || e?.code === 'SQLITE_BUSY';
}
