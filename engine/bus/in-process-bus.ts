import { Knex } from 'knex';
import { runMigrations } from '../migrations';
import { WriteBatcher } from '../write-batcher';
import { Bus, BusMessage, DeadLetter, Handler, SubscribeOptions, Subscription, TopicMessage, type BusLogger } from './bus';
import { topicMatches } from './topic-pattern';
import { BINDINGS, migrations, TABLE } from './in-process-bus-schema';
import { QueueState, Row } from './in-process-queue-state';
import { InProcessSubscription } from './in-process-subscription';

/** Rows per INSERT/DELETE statement: well under every dialect's bind-parameter limit. */
const CHUNK = 500;
/** Publishes (or acks) written in one transaction at most. */
const BATCH = 1000;

/*
 * The embedded bus: the table is the truth, memory is the index. Every message is a row until it is acked
 * (deleted) or dead-lettered (dead = 1); the ready lists in memory are built from inserts as they commit and from
 * the table at start(). Because delivery state lives in this process's memory, one database serves one running
 * bus instance; several engine nodes need RabbitMQ. The whole backlog is held in memory.
 *
 * Durability points: publish resolves after its INSERT committed; attempts is incremented (committed) before a
 * handler runs, so a run lost to a crash still counts; acks are batched DELETEs, and a row whose DELETE was lost
 * in a crash is simply delivered again (at-least-once).
 */
export class InProcessBus implements Bus {
  readonly kind = 'in-process' as const;
  readonly log: BusLogger;
  private readonly pollMs: number;
  private readonly queues = new Map<string, QueueState>();
  /** exchange → bindings; kept in the table so that a restarted process routes as before, even before anyone binds. */
  private readonly bindings = new Map<string, { queue: string; pattern: string }[]>();
  private started: Promise<void> | null = null;
  private stopped = false;
  private lastSeq = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly inserts: WriteBatcher<Row[]>;
  private readonly runs: WriteBatcher<number[]>;
  private readonly acks: WriteBatcher<number[]>;

  constructor(private readonly db: Knex, options: { logger?: BusLogger; pollMs?: number } = {}) {
    this.log = options.logger ?? (() => undefined);
    this.pollMs = options.pollMs ?? 20;
    // One bad message fails only its own publish; run counts and acks succeed or fail as a whole.
    this.inserts = new WriteBatcher(db, { maxBatch: BATCH, isolateFailures: true, apply: (trx, ops) => this.insert(trx, ops.flat()) });
    this.runs = new WriteBatcher(db, { maxBatch: BATCH, apply: (trx, ops) => this.inChunks(ops.flat(), (c) => trx(TABLE).whereIn('seq', c).increment('attempts', 1)) });
    this.acks = new WriteBatcher(db, { maxBatch: BATCH, apply: (trx, ops) => this.inChunks(ops.flat(), (c) => trx(TABLE).whereIn('seq', c).del()) });
  }

  start(): Promise<void> {
    this.started ??= this.load();
    return this.started;
  }

  async publish(queue: string, messages: BusMessage[]): Promise<void> {
    await this.ready();
    await this.enqueue(messages.map((m) => [queue, m]));
  }

  /** Every bound queue gets its own row (copy), all inserted in one group commit: all copies are durable or none. */
  async publishTopic(exchange: string, messages: TopicMessage[]): Promise<void> {
    await this.ready();
    const bound = this.bindings.get(exchange) ?? [];
    const copies: [string, BusMessage][] = [];
    for (const m of messages) {
      const queues = new Set(bound.filter((b) => topicMatches(b.pattern, m.routingKey)).map((b) => b.queue));
      for (const q of queues) copies.push([q, { id: m.id, body: m.body, key: m.key, headers: { ...m.headers, routingKey: m.routingKey } }]);
    }
    await this.enqueue(copies);
  }

  async bindTopic(queue: string, exchange: string, pattern: string): Promise<void> {
    await this.ready();
    const list = this.bindings.get(exchange) ?? [];
    if (list.some((b) => b.queue === queue && b.pattern === pattern)) return;
    try {
      await this.db(BINDINGS).insert({ exchange, queue, pattern });
    } catch {
      // already bound by an earlier run whose binding we did not load yet: the row is what counts
    }
    list.push({ queue, pattern });
    this.bindings.set(exchange, list);
  }

  private async enqueue(messages: [string, BusMessage][]): Promise<void> {
    if (messages.length === 0) return;
    const now = Date.now();
    const rows: Row[] = messages.map(([queue, m]) => ({
      seq: this.nextSeq(), queue, id: m.id, key: m.key, body: JSON.stringify(m.body === undefined ? null : m.body),
      headers: m.headers ? JSON.stringify(m.headers) : null, attempts: 0, availableAt: now, lastError: null,
      recovered: false, holdsKey: false,
    }));
    await this.inserts.submit(rows);
    if (this.stopped) return;
    const touched = new Set<QueueState>();
    for (const r of rows) {
      const state = this.state(r.queue);
      state.ready.push(r);
      touched.add(state);
    }
    for (const state of touched) this.pump(state);
  }

  async subscribe(queue: string, handler: Handler, options: SubscribeOptions): Promise<Subscription> {
    await this.ready();
    const state = this.state(queue);
    const sub = new InProcessSubscription(this, state, handler, options);
    state.subs.push(sub);
    this.pump(state);
    return sub;
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const rows = await this.db(TABLE).where({ queue, dead: 1 }).orderBy('seq').limit(limit);
    return rows.map((r) => ({
      queue, id: r.msg_id, body: JSON.parse(r.body), key: r.msg_key ?? undefined,
      headers: r.headers ? JSON.parse(r.headers) : undefined, attempts: Number(r.attempts), lastError: r.last_error ?? '',
    }));
  }

  async dropDeadLetter(queue: string, id: string): Promise<void> {
    await this.db(TABLE).where({ queue, msg_id: id, dead: 1 }).del();
  }

  async depth(queue: string): Promise<number> {
    const s = this.queues.get(queue);
    if (!s) return 0;
    let blocked = 0;
    for (const rows of s.blocked.values()) blocked += rows.length;
    return s.ready.length + s.resumed.length + blocked + s.delayed.length;
  }

  healthy(): boolean {
    return this.started !== null && !this.stopped;
  }

  async close(): Promise<void> {
    for (const s of this.queues.values()) await Promise.all([...s.subs].map((sub) => sub.close()));
    await Promise.all([this.inserts.drain(), this.runs.drain(), this.acks.drain()]);
    this.stop();
  }

  /** Stops at once without waiting for running handlers or flushing anything: what a crash leaves behind. */
  async abort(): Promise<void> {
    this.stop();
  }

  // ---- used by subscriptions ----

  isStopped(): boolean {
    return this.stopped;
  }

  /** Hands ready rows to subscriptions with free slots; their attempts are committed as one batch before they run. */
  pump(state: QueueState): void {
    if (this.stopped) return;
    const batch: [InProcessSubscription, Row][] = [];
    for (;;) {
      const sub = this.freeSub(state);
      if (!sub) break;
      const row = this.nextRow(state);
      if (!row) break;
      sub.active++;
      batch.push([sub, row]);
    }
    if (batch.length === 0) return;
    this.runs.submit(batch.map(([, row]) => row.seq)).then(
      () => {
        if (this.stopped) return;
        batch.forEach(([sub, row]) => { row.attempts++; void sub.run(row); });
      },
      (err: Error) => {
        this.log('error', 'in-process bus: could not record a delivery; retrying', { queue: batch[0][1].queue, error: err.message });
        for (const [sub, row] of [...batch].reverse()) { sub.active--; this.giveBack(state, row); }
        setTimeout(() => this.pump(state), 1000).unref();
      },
    );
  }

  /** Returns a row that did not finish to the front of the line, keeping its key's place. */
  giveBack(state: QueueState, row: Row): void {
    if (row.holdsKey) state.resumed.unshift(row);
    else state.ready.unshift(row);
  }

  /**
   * The DELETE is batched with other acks. A key-holding row keeps its key until the DELETE committed: otherwise a
   * crash in between could run this message again after the next one of its key.
   */
  async ack(state: QueueState, row: Row): Promise<void> {
    const deleted = this.acks.submit([row.seq]).catch((err: Error) => {
      this.log('warn', 'in-process bus: ack not recorded; the message may be delivered again', { id: row.id, error: err.message });
    });
    if (row.holdsKey) await deleted;
    this.releaseKey(state, row);
  }

  async deadLetter(state: QueueState, row: Row, error: string): Promise<void> {
    await this.db(TABLE).where({ seq: row.seq }).update({ dead: 1, last_error: error });
    this.releaseKey(state, row);
  }

  /**
   * A failed row waits out its backoff. Ordered (key-holding) rows keep their key while they wait, so the retry
   * happens in place; they also keep their committed available_at, so after a crash they run again first, in order.
   */
  async retryLater(state: QueueState, row: Row, error: string, delayMs: number): Promise<void> {
    row.availableAt = Date.now() + delayMs;
    row.lastError = error;
    const update = row.holdsKey ? { last_error: error } : { last_error: error, available_at: row.availableAt };
    await this.db(TABLE).where({ seq: row.seq }).update(update);
    state.delayed.push(row);
    this.armSweep();
  }

  ackDrain(): Promise<void> {
    return this.acks.drain();
  }

  // ---- internals ----

  private releaseKey(state: QueueState, row: Row): void {
    if (!row.holdsKey || row.key === undefined) return;
    row.holdsKey = false;
    const waiting = state.blocked.get(row.key);
    const next = waiting?.shift();
    if (next) {
      next.holdsKey = true;
      state.resumed.push(next);
      if (waiting!.length === 0) state.blocked.delete(row.key);
    } else {
      state.held.delete(row.key);
    }
  }

  private nextRow(state: QueueState): Row | undefined {
    const resumed = state.resumed.shift();
    if (resumed) return resumed;
    // A queue is ordered while any of its subscriptions asks for order: keys are per queue, not per subscriber.
    const ordered = state.subs.some((s) => s.ordered);
    for (let row = state.ready.shift(); row; row = state.ready.shift()) {
      if (!ordered || row.key === undefined) return row;
      if (!state.held.has(row.key)) {
        state.held.add(row.key);
        row.holdsKey = true;
        return row;
      }
      const waiting = state.blocked.get(row.key);
      if (waiting) waiting.push(row);
      else state.blocked.set(row.key, [row]);
    }
    return undefined;
  }

  private freeSub(state: QueueState): InProcessSubscription | undefined {
    for (let i = 0; i < state.subs.length; i++) {
      const sub = state.subs[(state.rr + i) % state.subs.length];
      if (sub.active < sub.concurrency && !sub.closing) {
        state.rr = (state.rr + i + 1) % state.subs.length;
        return sub;
      }
    }
    return undefined;
  }

  private armSweep(): void {
    if (this.sweepTimer || this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const now = Date.now();
      let waiting = false;
      for (const state of this.queues.values()) {
        if (state.delayed.length === 0) continue;
        const due = state.delayed.filter((r) => r.availableAt <= now);
        if (due.length) state.delayed = state.delayed.filter((r) => r.availableAt > now);
        for (const row of due.sort((a, b) => a.seq - b.seq)) {
          if (row.holdsKey) state.resumed.push(row);
          else state.ready.push(row);
        }
        waiting ||= state.delayed.length > 0;
        if (due.length) this.pump(state);
      }
      if (waiting) this.armSweep();
    }, this.pollMs);
  }

  private async load(): Promise<void> {
    await runMigrations(this.db, 'in-process-bus', migrations);
    for (const b of await this.db(BINDINGS).select('exchange', 'queue', 'pattern')) {
      const list = this.bindings.get(b.exchange) ?? [];
      list.push({ queue: b.queue, pattern: b.pattern });
      this.bindings.set(b.exchange, list);
    }
    const max = await this.db(TABLE).max('seq as m').first();
    this.lastSeq = Number(max?.m ?? 0);
    const now = Date.now();
    for (let after = -1; ;) {
      const rows = await this.db(TABLE).where('dead', 0).andWhere('seq', '>', after).orderBy('seq').limit(5000);
      if (rows.length === 0) break;
      for (const r of rows) {
        const row: Row = {
          seq: Number(r.seq), queue: r.queue, id: r.msg_id, key: r.msg_key ?? undefined, body: r.body, headers: r.headers,
          attempts: Number(r.attempts), availableAt: Number(r.available_at), lastError: r.last_error, recovered: true, holdsKey: false,
        };
        const state = this.state(row.queue);
        if (row.availableAt > now) state.delayed.push(row);
        else state.ready.push(row);
        after = row.seq;
      }
    }
    this.armSweep();
  }

  private async ready(): Promise<void> {
    if (!this.started) throw new Error('in-process bus: call start() first');
    await this.started;
    if (this.stopped) throw new Error('in-process bus is closed');
  }

  private stop(): void {
    this.stopped = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    for (const s of this.queues.values()) for (const sub of s.subs) sub.closing = true;
    this.queues.clear();
  }

  private state(queue: string): QueueState {
    let s = this.queues.get(queue);
    if (!s) this.queues.set(queue, (s = new QueueState()));
    return s;
  }

  /** Monotonic and ahead of every existing row; microsecond-like so that a restart never reuses a number. */
  private nextSeq(): number {
    this.lastSeq = Math.max(this.lastSeq + 1, Date.now() * 1000);
    return this.lastSeq;
  }

  private async insert(trx: Knex.Transaction, rows: Row[]): Promise<void> {
    for (let i = 0; i < rows.length; i += CHUNK) {
      await trx(TABLE).insert(rows.slice(i, i + CHUNK).map((r) => ({
        seq: r.seq, queue: r.queue, msg_id: r.id, msg_key: r.key ?? null, body: r.body, headers: r.headers,
        attempts: 0, available_at: r.availableAt, dead: 0, last_error: null,
      })));
    }
  }

  private async inChunks(seqs: number[], run: (chunk: number[]) => PromiseLike<unknown>): Promise<void> {
    for (let i = 0; i < seqs.length; i += CHUNK) await run(seqs.slice(i, i + CHUNK));
  }
}
