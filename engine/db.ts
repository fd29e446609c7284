import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { Knex } from 'knex';

export type Dialect = 'sqlite' | 'postgres' | 'mysql' | 'mssql' | 'oracle';

/** The knex config key under which a SQLite database carries how many worker threads read it. */
const SQLITE_READ_WORKERS = 'lingshuSqliteReadWorkers';
const DEFAULT_SQLITE_READ_WORKERS = 2;

/** How many worker threads may read `db` (a SQLite database) outside transactions; 0: its reads stay on this thread. */
export function sqliteReadWorkersOf(db: Knex): number {
  const n = (db.client.config as Record<string, unknown>)[SQLITE_READ_WORKERS];
  return typeof n === 'number' ? n : DEFAULT_SQLITE_READ_WORKERS;
}

/**
 * Opens the database named by a LINGSHU_DB-style URL. Unset = SQLite file under ./data/.
 * Dialect differences the rest of the code must know about are exposed as `dialectOf(knex)`.
 */
export function openDatabase(url: string | undefined, options: { sqliteFile?: string; pool?: number; sqliteReadWorkers?: number } = {}): Knex {
  if (!url || url.startsWith('sqlite:') || url.startsWith('file:')) {
    const file = url ? url.replace(/^(sqlite|file):(\/\/)?/, '') : options.sqliteFile ?? path.resolve('data', 'lingshu.db');
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const config: Knex.Config & Record<string, unknown> = {
      client: 'better-sqlite3',
      connection: { filename: file },
      useNullAsDefault: true,
      // Read by the FHIR store's reads outside transactions (fhir-resources/store/sqlite-read-pool.ts).
      [SQLITE_READ_WORKERS]: options.sqliteReadWorkers,
      pool: {
        min: 1,
        max: 1,
        // WAL + synchronous=NORMAL: a committed transaction survives a process crash (SIGKILL), which is the
        // durability the engine promises before it acknowledges a sender. auto_vacuum must be set before the
        // first table exists for incremental_vacuum to give pruned space back.
        afterCreate: (conn: any, done: (err: Error | null, conn: any) => void) => {
          conn.pragma('auto_vacuum = INCREMENTAL');
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    };
    return knexFactory(config);
  }
  const u = new URL(url);
  const scheme = u.protocol.replace(':', '');
  const pool = { min: 0, max: options.pool ?? defaultPoolSize() };
  if (scheme === 'postgres' || scheme === 'postgresql') {
    return knexFactory({ client: 'pg', connection: url, pool });
  }
  if (scheme === 'mysql' || scheme === 'mariadb') {
    return knexFactory({
      client: 'mysql2',
      connection: {
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: u.pathname.slice(1),
        charset: 'utf8mb4',
        supportBigNumbers: true,
      },
      pool,
    });
  }
  if (scheme === 'mssql') {
    return knexFactory({
      client: 'mssql',
      connection: {
        server: u.hostname,
        port: Number(u.port || 1433),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: u.pathname.slice(1),
        options: { encrypt: u.searchParams.get('encrypt') !== 'false', trustServerCertificate: u.searchParams.get('trustServerCertificate') === 'true' },
      },
      pool,
    });
  }
  if (scheme === 'oracle') {
    return knexFactory({
      client: 'oracledb',
      connection: {
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        connectString: `${u.hostname}:${u.port || 1521}${u.pathname}`,
      },
      pool,
    });
  }
  throw new Error(`LINGSHU_DB: unsupported database scheme "${scheme}" (use postgres://, mysql://, mssql://, oracle:// or leave unset for SQLite)`);
}

/**
 * Connections of a server database's pool unless configured (`dbPool`): twice the cores plus one, the rule of thumb
 * of PostgreSQL's wiki and HikariCP's pool sizing, counted here on the assumption that the database runs on a machine
 * like this one. More connections than the cores can serve only queue inside the database instead of in the pool,
 * and cost context switches: on 2 cores shared by server, database and load, 10 connections against 5 gave 10-20%
 * fewer searches per second and half again the p99. A database on a larger server wants `dbPool` set to its size.
 */
export function defaultPoolSize(): number {
  return 2 * os.cpus().length + 1;
}

/** Connections of the message store's own pool on a server database: two write pipelines and a few reads. */
const MESSAGE_STORE_POOL = 4;

/**
 * The message store's handle. On a server database it gets its own small pool: its inserts are what a sender's
 * acknowledgement waits for, and in the shared pool they queued behind the FHIR store's transactions under write
 * load. SQLite keeps the one connection it has (one writer per file anyway).
 */
export function openMessageStoreDatabase(url: string | undefined, main: Knex): Knex {
  return dialectOf(main) === 'sqlite' ? main : openDatabase(url, { pool: MESSAGE_STORE_POOL });
}

export function dialectOf(db: Knex): Dialect {
  const client = String(db.client.config.client);
  if (client.includes('sqlite')) return 'sqlite';
  if (client === 'pg' || client === 'postgres') return 'postgres';
  if (client.startsWith('mysql')) return 'mysql';
  if (client === 'mssql') return 'mssql';
  return 'oracle';
}

/** True when `err` is a unique-key violation on any supported dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE'
    || e?.code === 'ER_DUP_ENTRY' || e?.errno === 2627 || e?.errno === 2601;
}
