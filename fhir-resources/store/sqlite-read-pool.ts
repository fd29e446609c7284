import { Worker } from 'node:worker_threads';
import { TurnBatch } from './turn-batch';

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
  parentPort.postMessage(batch.map(({ sql, params }) => {
    try {
      return { rows: prepared(sql).all(...params) };
    } catch (err) {
      return { error: String((err && err.message) || err), code: err && err.code };
    }
  }));
});
`;

/** A query and who waits for its rows. */
interface Asked {
  sql: string;
  params: unknown[];
  resolve(rows: Array<Record<string, unknown>>): void;
  reject(err: unknown): void;
}

/** The worker's answer to one query of a batch, at the query's place in it. */
interface Answer {
  rows?: Array<Record<string, unknown>>;
  error?: string;
  code?: string;
}

class ReadWorker {
  /** Batches sent and not yet answered, oldest first: a worker answers its messages in the order they came. */
  private readonly inFlight: Asked[][] = [];
  /** Queries owed, across those batches. */
  owed = 0;
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

  send(batch: Asked[]): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.inFlight.push(batch);
    this.owed += batch.length;
    // Held while it owes answers, as a main-thread read would hold the process: a script awaiting a read must not end.
    this.worker.ref();
    this.worker.postMessage(batch.map(({ sql, params }) => ({ sql, params })));
  }

  stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    this.worker.postMessage('stop');
  }

  private settle(answers: Answer[]): void {
    const batch = this.inFlight.shift() ?? [];
    this.owed -= batch.length;
    batch.forEach((asked, i) => {
      const a = answers[i];
      if (a.error !== undefined) asked.reject(Object.assign(new Error(a.error), a.code ? { code: a.code } : {}));
      else asked.resolve(a.rows!);
    });
    if (this.owed > 0) return;
    this.worker.unref();
    if (!this.ended) {
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
    for (const batch of this.inFlight.splice(0)) for (const asked of batch) asked.reject(err);
    this.owed = 0;
  }
}

export class SqliteReadPool {
  private readonly workers: ReadWorker[] = [];
  private readonly turn = new TurnBatch<'reads', Asked>((queued) => this.flush(queued.get('reads')!));
  private closed = false;

  constructor(private readonly file: string, private readonly driver: string, private readonly size = 2, private readonly cacheKib = -65536) {}

  rows(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
    if (this.closed) return Promise.reject(new Error('SQLite read pool closed'));
    return new Promise((resolve, reject) => this.turn.add('reads', { sql, params, resolve, reject }));
  }

  close(): void {
    this.closed = true;
    for (const w of [...this.workers]) w.stop();
  }

  private flush(batch: Asked[]): void {
    // The least busy worker takes the turn's queries; a new one starts while the pool is below its size.
    let worker = this.workers.find((w) => w.owed === 0);
    if (!worker && this.workers.length < this.size) {
      worker = new ReadWorker(this.file, this.driver, this.cacheKib, (w) => {
        const at = this.workers.indexOf(w);
        if (at >= 0) this.workers.splice(at, 1);
      });
      this.workers.push(worker);
    }
    worker ??= this.workers.reduce((a, b) => (b.owed < a.owed ? b : a));
    worker.send(batch);
  }
}
