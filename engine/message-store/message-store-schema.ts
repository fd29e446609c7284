import { Knex } from 'knex';
import { Dialect, dialectOf } from '../db';
import { MigrationStep } from '../migrations';

export const MESSAGES = 'lingshu_messages';
export const STAGES = 'lingshu_message_stages';
export const ERRORS = 'lingshu_message_errors';
const TABLES = [MESSAGES, STAGES, ERRORS];

export const DAY_MS = 86_400_000;

/** Column widths, checked before a write joins a batch: one oversized value must not fail everyone else's commit. */
export const LIMITS = { id: 36, channelId: 128, correlationId: 255, contentType: 255, encoding: 32, stage: 200, status: 16 } as const;

/** UTC day number; PostgreSQL partitions are whole UTC days of received_at. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function partitionName(table: string, day: number): string {
  return `${table}_p${new Date(day * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

function dayOfPartition(name: string): number | undefined {
  const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? dayOf(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
}

async function createPortableTables(db: Knex, dialect: Dialect): Promise<void> {
  // Binary collation on MySQL keeps ids, channel and stage names case-sensitive as they are on the other dialects.
  const key = (c: Knex.ColumnBuilder) => (dialect === 'mysql' ? c.collate('utf8mb4_bin') : c);
  await db.schema.createTable(MESSAGES, (t) => {
    key(t.string('id', LIMITS.id).notNullable().primary());
    key(t.string('channel_id', LIMITS.channelId).notNullable());
    key(t.string('correlation_id', LIMITS.correlationId).notNullable());
    t.string('status', LIMITS.status).notNullable();
    t.string('content_type', LIMITS.contentType).notNullable();
    t.string('encoding', LIMITS.encoding).notNullable();
    t.text('raw', 'longtext').nullable();
    t.bigInteger('received_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    key(t.string('reprocessed_from', LIMITS.id).nullable());
    t.boolean('content_pruned').notNullable().defaultTo(false);
    t.integer('size').notNullable();
    t.index(['channel_id', 'received_at'], 'lingshu_messages_channel_received');
    t.index(['status', 'received_at'], 'lingshu_messages_status_received');
    t.index(['correlation_id'], 'lingshu_messages_correlation');
    t.index(['received_at'], 'lingshu_messages_received');
  });
  await db.schema.createTable(STAGES, (t) => {
    key(t.string('message_id', LIMITS.id).notNullable());
    key(t.string('name', LIMITS.stage).notNullable());
    t.integer('seq').notNullable();
    t.string('kind', 16).notNullable();
    t.string('status', LIMITS.status).notNullable();
    t.text('content', 'longtext').nullable();
    t.text('response', 'longtext').nullable();
    t.text('error', 'longtext').nullable();
    t.integer('attempts').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('received_at').notNullable();
    t.primary(['message_id', 'name']);
    t.index(['status', 'received_at'], 'lingshu_message_stages_status');
  });
  await db.schema.createTable(ERRORS, (t) => {
    // A surrogate key: clustered storage / replication (Galera) wants a primary key, and no natural one is unique.
    t.bigIncrements('id');
    key(t.string('message_id', LIMITS.id).notNullable());
    key(t.string('stage', LIMITS.stage).notNullable());
    t.integer('attempt').notNullable();
    t.text('error', 'longtext').notNullable();
    t.bigInteger('at').notNullable();
    t.bigInteger('received_at').notNullable();
    t.index(['message_id', 'attempt'], 'lingshu_message_errors_message');
  });
}

/**
 * lz4 (PostgreSQL 14+, when built with it) compresses the 2 KB-and-up contents far cheaper than the default pglz:
 * about a third more inserts per second in bench/message-store-insert.ts.
 */
async function lz4Clause(db: Knex): Promise<string> {
  const probe = await db.raw(`SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) AS lz4`);
  return probe.rows[0].lz4 ? ' COMPRESSION lz4' : '';
}

/**
 * PostgreSQL: the three tables are range-partitioned by received_at in UTC days, so that dropping a day of
 * metadata is a DROP TABLE that gives the space back at once (a DELETE only leaves dead tuples for VACUUM).
 * The partition key has to be part of every unique constraint, hence (id, received_at) and friends.
 */
async function createPartitionedTables(db: Knex): Promise<void> {
  const lz4 = await lz4Clause(db);
  const statements = [
    `CREATE TABLE ${MESSAGES} (
       id varchar(${LIMITS.id}) NOT NULL,
       channel_id varchar(${LIMITS.channelId}) NOT NULL,
       correlation_id varchar(${LIMITS.correlationId}) NOT NULL,
       status varchar(${LIMITS.status}) NOT NULL,
       content_type varchar(${LIMITS.contentType}) NOT NULL,
       encoding varchar(${LIMITS.encoding}) NOT NULL,
       raw text${lz4},
       received_at bigint NOT NULL,
       updated_at bigint NOT NULL,
       reprocessed_from varchar(${LIMITS.id}),
       content_pruned boolean NOT NULL DEFAULT false,
       size integer NOT NULL,
       PRIMARY KEY (id, received_at)
     ) PARTITION BY RANGE (received_at)`,
    `CREATE INDEX lingshu_messages_channel_received ON ${MESSAGES} (channel_id, received_at)`,
    `CREATE INDEX lingshu_messages_status_received ON ${MESSAGES} (status, received_at)`,
    `CREATE INDEX lingshu_messages_correlation ON ${MESSAGES} (correlation_id)`,
    `CREATE INDEX lingshu_messages_received ON ${MESSAGES} (received_at)`,
    `CREATE TABLE ${STAGES} (
       message_id varchar(${LIMITS.id}) NOT NULL,
       name varchar(${LIMITS.stage}) NOT NULL,
       seq integer NOT NULL,
       kind varchar(16) NOT NULL,
       status varchar(${LIMITS.status}) NOT NULL,
       content text${lz4},
       response text${lz4},
       error text,
       attempts integer NOT NULL,
       updated_at bigint NOT NULL,
       received_at bigint NOT NULL,
       PRIMARY KEY (message_id, name, received_at)
     ) PARTITION BY RANGE (received_at)`,
    // Partial: only the few unconfirmed stages are indexed, not every stage ever written.
    `CREATE INDEX lingshu_message_stages_pending ON ${STAGES} (received_at) WHERE status = 'pending'`,
    `CREATE TABLE ${ERRORS} (
       id bigserial NOT NULL,
       message_id varchar(${LIMITS.id}) NOT NULL,
       stage varchar(${LIMITS.stage}) NOT NULL,
       attempt integer NOT NULL,
       error text NOT NULL,
       at bigint NOT NULL,
       received_at bigint NOT NULL,
       PRIMARY KEY (id, received_at)
     ) PARTITION BY RANGE (received_at)`,
    `CREATE INDEX lingshu_message_errors_message ON ${ERRORS} (message_id, attempt)`,
  ];
  await db.transaction(async (trx) => {
    for (const sql of statements) await trx.raw(sql);
  });
}

export function messageStoreMigrations(): MigrationStep[] {
  return [
    async (db) => {
      const dialect = dialectOf(db);
      if (dialect === 'postgres') await createPartitionedTables(db);
      else if (dialect === 'sqlite') await db.transaction((trx) => createPortableTables(trx, dialect));
      else await createPortableTables(db, dialect);
    },
    async (db) => {
      // 'raw': the stage's content is the message's raw content, which is not stored a second time (a pass-through
      // channel's destinations). NULL: the stage's own content column holds it.
      await db.schema.alterTable(STAGES, (t) => {
        t.string('content_from', 16).nullable();
      });
    },
    async (db) => {
      // The transformed content that several destinations share, stored once (their content_from = 'output').
      if (dialectOf(db) === 'postgres') await db.raw(`ALTER TABLE ${MESSAGES} ADD COLUMN output text${await lz4Clause(db)}`);
      else await db.schema.alterTable(MESSAGES, (t) => {
        t.text('output', 'longtext').nullable();
      });
    },
  ];
}

/**
 * The day partitions of the three PostgreSQL tables. Days are created ahead (migrate, prune) and on demand when a
 * batch holds a day nobody created yet; there is no DEFAULT partition, because a row parked there would block
 * creating its day's partition later.
 */
export class PgPartitions {
  private known?: Set<number>;

  constructor(private readonly db: Knex) {}

  /** Days that have partitions, read from the catalog. */
  async list(): Promise<number[]> {
    const res = await this.db.raw(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ?::regclass`,
      [MESSAGES],
    );
    const days = (res.rows as { relname: string }[]).map((r) => dayOfPartition(r.relname)).filter((d): d is number => d !== undefined);
    return days.sort((a, b) => a - b);
  }

  async ensure(days: Iterable<number>): Promise<void> {
    if (!this.known) this.known = new Set(await this.list());
    const missing = [...new Set(days)].filter((d) => !this.known!.has(d));
    if (!missing.length) return;
    // Serialised across nodes: two CREATE TABLE IF NOT EXISTS racing for the same name can still collide.
    await this.db.transaction(async (trx) => {
      await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('lingshu_message_partitions'))`);
      for (const day of missing) {
        for (const table of TABLES) {
          await trx.raw(`CREATE TABLE IF NOT EXISTS ${partitionName(table, day)} PARTITION OF ${table} FOR VALUES FROM (${day * DAY_MS}) TO (${(day + 1) * DAY_MS})`);
        }
      }
    });
    for (const d of missing) this.known.add(d);
  }

  /** Drops every table of that day; returns how many messages went with it. */
  async drop(day: number): Promise<number> {
    const count = await this.db.transaction(async (trx) => {
      // Dropping a partition locks its parent exclusively; while that lock waits for running queries every new query
      // queues behind it, so give up rather than stall the engine for long.
      await trx.raw(`SET LOCAL lock_timeout = '2s'`);
      await trx.raw(`SELECT pg_advisory_xact_lock(hashtext('lingshu_message_partitions'))`);
      const names = TABLES.map((t) => partitionName(t, day));
      // Locked before counting, so that no row lands in between and leaves uncounted.
      await trx.raw(`LOCK TABLE ${names.join(', ')} IN ACCESS EXCLUSIVE MODE`);
      const res = await trx.raw(`SELECT count(*) AS n FROM ${names[0]}`);
      await trx.raw(`DROP TABLE ${names.join(', ')}`);
      return Number(res.rows[0].n);
    });
    this.known?.delete(day);
    return count;
  }

  async channelsIn(day: number): Promise<string[]> {
    const res = await this.db.raw(`SELECT DISTINCT channel_id FROM ${partitionName(MESSAGES, day)}`);
    return (res.rows as { channel_id: string }[]).map((r) => r.channel_id);
  }

  /** Re-read the catalog next time: another node may have dropped or created days. */
  forget(): void {
    this.known = undefined;
  }
}

/** Insert into a day without a partition (e.g. dropped by another node's prune after we cached it). */
export function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23514' && /no partition of relation/.test(e.message ?? '');
}
