import { Worker } from 'node:worker_threads';

/**
 * Reads of a SQLite file outside transactions, run by worker threads with connections of their own. better-sqlite3
 * runs a query on the calling thread, so on the engine's one JavaScript thread every read by id and every search
 * waited for SQLite (half of a read's CPU) while the machine's second core sat idle. WAL lets any number of readers
 * see exactly what has committed, from any thread, so a read handed to a worker answers what it would have on the
 * main thread. The queries of one event-loop turn travel to a worker in one message, and come back in one.
 *
 * A worker keeps the process alive only while it owes answers, and ends after IDLE_MS without work; the next read
 * starts one again. A worker that fails fails the reads it held, and the next read starts a fresh one.
 */

const IDLE_MS = 30_000;

/*
 * JavaScript text, loaded by path from the caller's better-sqlite3: the worker must run the same under ts-jest
 * (sources) and node (dist), as engine/sqlite-checkpointer's does.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('query_only = ON');
db.pragma('cache_size = ' + workerData.cacheKib);
const statements = new Map();
const prepared = (sql) => {
  let s = statements.get(sql);
  if (!s) {
    if (statements.size >= 500) statements.clear();
    statements.set(sql, (s = db.prepare(sql)));
  }
  return s;
};
parentPort.on('message', (batch) => {
  if (batch === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  parentPort.postMessage(batch.map(({ id, sql, params }) => {
    try {
      return { id, rows: prepared(sql).all(...params) };
    } catch (err) {
      return { id, error: String((err && err.message) || err), code: err && err.code };
    }
  }));
});
`;

interface Pending {
  resolve(rows: Array<Record<string, unknown>>): void;
  reject(err: unknown): void;
}

interface Query {
  id: number;
  sql: string;
  params: unknown[];
}

interface Answer {
  id: number;
  rows?: Array<Record<string, unknown>>;
  error?: string;
  code?: string;
}

class ReadWorker {
  readonly pending = new Map<number, Pending>();
  private readonly worker: Worker;
  private idleTimer?: NodeJS.Timeout;
  ended = false;

  constructor(file: string, driver: string, cacheKib: number, private readonly onEnd: (w: ReadWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, cacheKib } });
    this.worker.unref();
    this.worker.on('message', (answers: Answer[]) => this.settle(answers));
    this.worker.on('error', (err) => this.end(err));
    this.worker.on('exit', () => this.end(new Error('SQLite read worker exited')));
  }

  send(queries: Query[], waiting: Map<number, Pending>): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const q of queries) this.pending.set(q.id, waiting.get(q.id)!);
    // Held while it owes answers, as a main-thread read would hold the process: a script awaiting a read must not end.
    this.worker.ref();
    this.worker.postMessage(queries);
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    this.worker.postMessage('stop');
  }

  private settle(answers: Answer[]): void {
    for (const a of answers) {
      const p = this.pending.get(a.id);
      this.pending.delete(a.id);
      if (!p) continue;
      if (a.error !== undefined) p.reject(Object.assign(new Error(a.error), a.code ? { code: a.code } : {}));
      else p.resolve(a.rows!);
    }
    if (this.pending.size === 0) this.worker.unref();
    if (this.pending.size === 0 && !this.ended) {
      this.idleTimer = setTimeout(() => this.stop(), IDLE_MS);
      this.idleTimer.unref();
    }
  }

  private end(err: unknown): void {
    clearTimeout(this.idleTimer);
    if (!this.ended) {
      this.ended = true;
      this.onEnd(this);
    }
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

export class SqliteReadPool {
  private readonly workers: ReadWorker[] = [];
  private queued: Query[] = [];
  private readonly waiting = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly file: string, private readonly driver: string, private readonly size = 2, private readonly cacheKib = -65536) {}

  rows(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
    if (this.closed) return Promise.reject(new Error('SQLite read pool closed'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      if (this.queued.length === 0) setImmediate(() => this.flush());
      this.queued.push({ id, sql, params });
    });
  }

  close(): void {
    this.closed = true;
    for (const w of [...this.workers]) w.stop();
  }

  private flush(): void {
    const queries = this.queued;
    this.queued = [];
    if (queries.length === 0) return;
    // The least busy worker takes the turn's queries; a new one starts while the pool is below its size.
    let worker = this.workers.find((w) => w.pending.size === 0);
    if (!worker && this.workers.length < this.size) {
      worker = new ReadWorker(this.file, this.driver, this.cacheKib, (w) => {
        const at = this.workers.indexOf(w);
        if (at >= 0) this.workers.splice(at, 1);
      });
      this.workers.push(worker);
    }
    worker ??= this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    worker.send(queries, this.waiting);
    for (const q of queries) this.waiting.delete(q.id);
  }
}
