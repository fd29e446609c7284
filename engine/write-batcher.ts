import { Knex } from 'knex';

interface Waiter<Op> {
  op: Op;
  resolve(): void;
  reject(err: unknown): void;
}

export interface WriteBatcherOptions<Op> {
  /** Most operations written in one transaction. */
  maxBatch: number;
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

  constructor(private readonly db: Knex, private readonly options: WriteBatcherOptions<Op>) {}

  submit(op: Op): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.running) this.running = this.run();
    });
  }

  /** Resolves once everything submitted so far is settled. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length) {
        // One turn of the event loop lets callers whose previous write just resolved submit their next one, so
        // that they join this batch instead of each starting a small one.
        await new Promise<void>((r) => setImmediate(r));
        const batch = this.queue.splice(0, this.options.maxBatch);
        await this.commit(batch);
      }
    } finally {
      this.running = undefined;
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
