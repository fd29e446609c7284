import { Worker } from 'node:worker_threads';
import type { Knex } from 'knex';
import type winston from 'winston';

export interface SqliteCheckpointerOptions {
  /** How often the worker copies the WAL's new frames into the database file. */
  intervalMs?: number;
  /**
   * WAL pages after which a committing connection checkpoints by itself (SQLite's own autocheckpoint, 1,000 by
   * default), kept as the fallback should the worker fall behind or stop.
   */
  fallbackPages?: number;
}

export interface CheckpointStats {
  /** Checkpoints that copied frames. */
  checkpoints: number;
  /** Frames copied into the database file. */
  frames: number;
  /** Checkpoints that could not finish because a reader still used older frames (they finish on a later one). */
  busy: number;
}

/*
 * Runs in a worker thread with its own connection: loaded by path from the caller's better-sqlite3, and as
 * JavaScript text, because the worker must run the same under ts-jest (sources) and node (dist).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
let timer;
const tick = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && (r.checkpointed > 0 || r.busy)) parentPort.postMessage({ frames: r.checkpointed, busy: Boolean(r.busy) });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
  timer = setTimeout(tick, workerData.intervalMs);
};
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
timer = setTimeout(tick, workerData.intervalMs);
`;

/**
 * WAL checkpoints of a SQLite database file off the event loop. SQLite checkpoints in whichever connection commits
 * past 1,000 WAL pages: copying those pages into the database file and syncing it, inside that commit, on the
 * engine's one JavaScript thread. Every audited FHIR read commits (its AuditEvent), so checkpoints were about 8% of a
 * read's CPU. A worker thread with its own connection now copies new frames every `intervalMs` in PASSIVE mode,
 * which never blocks readers or writers; the engine's connection keeps an autocheckpoint at `fallbackPages`.
 */
export class SqliteCheckpointer {
  readonly stats: CheckpointStats = { checkpoints: 0, frames: 0, busy: 0 };
  private worker?: Worker;
  private exited?: Promise<void>;

  constructor(private readonly db: Knex, private readonly file: string, private readonly log: winston.Logger, private readonly options: SqliteCheckpointerOptions = {}) {}

  async start(): Promise<void> {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file: this.file, driver: require.resolve('better-sqlite3'), intervalMs: this.options.intervalMs ?? 200 },
    });
    // Never what keeps the process alive; the server stops it before closing the database.
    worker.unref();
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: { frames?: number; busy?: boolean; error?: string }) => {
      if (m.error) { this.log.warn('WAL checkpoint failed; the engine connection checkpoints by itself meanwhile', { error: m.error }); return; }
      if (m.frames) { this.stats.checkpoints++; this.stats.frames += m.frames; }
      if (m.busy) this.stats.busy++;
    });
    worker.on('error', (err) => this.log.error('WAL checkpoint worker stopped; the engine connection checkpoints by itself', { error: err.message }));
    // Per connection: knex's one SQLite connection lives as long as the pool, and a new one starts at SQLite's 1,000.
    await this.db.raw(`pragma wal_autocheckpoint = ${Math.floor(this.options.fallbackPages ?? 10_000)}`);
  }

  async stop(): Promise<void> {
    if (!this.worker) return;
    this.worker.postMessage('stop');
    await this.exited;
    this.worker = undefined;
  }
}

/** The database file of a SQLite knex, or undefined for another dialect or an in-memory database. */
export function sqliteFileOf(db: Knex): string | undefined {
  const config = db.client.config as { client?: string; connection?: { filename?: string } };
  const file = config.client === 'better-sqlite3' ? config.connection?.filename : undefined;
  return file && file !== ':memory:' && !file.startsWith('file::memory:') ? file : undefined;
}
