import { Knex } from 'knex';
import { Dialect, dialectOf, isUniqueViolation } from '../../engine/db';
import { pgStatement } from './prepared-statements';

/**
 * Every SQL difference the FHIR store has to know about, for SQLite, PostgreSQL, MySQL/MariaDB, SQL Server and
 * Oracle. The repository, migrations and outbox relay speak plain knex and ask this file whenever a dialect matters.
 */
export interface StoreDialect {
  readonly name: Dialect;
  /** Transaction settings for store writes. */
  readonly transactionConfig: Knex.TransactionConfig;
  /**
   * False where the database has a single writer (SQLite): the relay then claims nothing, because one process owns
   * the file and holding its only connection across a bus publish would stall every write (and the in-process bus).
   */
  readonly relayClaimsRows: boolean;
  /** A resource JSON column: large enough for a 10 MB resource. */
  contentColumn(t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder;
  /** A column compared case-sensitively (FHIR ids and types are case-sensitive). */
  caseSensitive(column: Knex.ColumnBuilder): Knex.ColumnBuilder;
  /** Lock the row(s) the query selects until the transaction ends (no-op where writers are serialised anyway). */
  forUpdate<Q extends Knex.QueryBuilder>(query: Q): Q;
  /**
   * True where SQL text with `?` placeholders and unquoted lower-case names runs as it is (SQLite, PostgreSQL,
   * MySQL/MariaDB), so the store's hot statements skip knex's query builder; SQL Server and Oracle keep it.
   */
  readonly plainSql: boolean;
  /** The rows of a `knex.raw` SELECT, as each driver returns them. */
  rawRows(result: unknown): Array<Record<string, unknown>>;
  /**
   * Holds the lock named `key` (64 hex digits) until the transaction ends: a second transaction asking for it waits
   * until the first has committed, then sees what it wrote.
   */
  lockUntilCommit(trx: Knex.Transaction, key: string): Promise<void>;
  /** Several such locks, taken in one fixed order (so that two transactions wanting the same ones cannot deadlock). */
  lockAllUntilCommit(trx: Knex.Transaction, keys: string[]): Promise<void>;
  /** Lock the given outbox rows that no one else holds, skipping those another relay has locked. */
  lockUnpublishedOutboxRows(trx: Knex.Transaction, seqs: number[]): Promise<Array<Record<string, unknown>>>;
  /**
   * Where one statement can do it (PostgreSQL): claims the unbroken run of unpublished rows from the oldest, skipping
   * none another relay holds, locks and marks them published at `publishedAt`, returning them in seq order. The
   * marks stand only if the transaction commits. Elsewhere the relay reads candidates, locks them and marks them.
   */
  claimOutboxRun?(trx: Knex.Transaction, limit: number, publishedAt: number): Promise<Array<Record<string, unknown>>>;
  isUniqueViolation(err: unknown): boolean;
  /** Deadlocks and serialisation failures: a concurrent writer got there first. */
  isWriteConflict(err: unknown): boolean;
  /** Reads a boolean column as stored by this driver (true/false, 0/1, '0'/'1'). */
  bool(value: unknown): boolean;
}

/** First key of the store's two-key advisory locks ('LS'). */
const ADVISORY_LOCK_SPACE = 0x4c53;

/** A hex digest's first 32 bits as PostgreSQL's int4 advisory-lock key. */
function advisoryKey(key: string): number {
  return Number.parseInt(key.slice(0, 8), 16) | 0;
}

const OUTBOX_COLUMNS = ['seq', 'resource_type', 'resource_id', 'version_id', 'action', 'correlation_id', 'created_at'];

export function storeDialect(db: Knex): StoreDialect {
  const name = dialectOf(db);
  return {
    name,
    // MySQL's default REPEATABLE READ takes gap locks on SELECT … FOR UPDATE of an id that does not exist yet, so two
    // concurrent create-on-updates deadlock; READ COMMITTED also makes a re-read after a lock wait see the winner's row.
    transactionConfig: name === 'mysql' ? { isolationLevel: 'read committed' } : {},
    relayClaimsRows: name !== 'sqlite',
    contentColumn: (t, column) => (name === 'mysql' ? t.text(column, 'longtext') : t.text(column)),
    caseSensitive: (column) => (name === 'mysql' ? column.collate('utf8mb4_bin') : column),
    forUpdate: (query) => (name === 'sqlite' ? query : (query.forUpdate() as typeof query)),
    plainSql: name === 'sqlite' || name === 'postgres' || name === 'mysql',
    rawRows: (result) => {
      if (name === 'postgres') return (result as { rows: Array<Record<string, unknown>> }).rows;
      if (name === 'mysql') return (result as [Array<Record<string, unknown>>])[0];
      return result as Array<Record<string, unknown>>;
    },
    async lockAllUntilCommit(trx, keys) {
      if (name === 'postgres') {
        // One round trip for a whole Bundle's conditions, taken in ascending order.
        const ints = [...new Set(keys.map(advisoryKey))].sort((a, b) => a - b);
        if (ints.length) await trx.raw('SELECT pg_advisory_xact_lock(?, k) FROM (SELECT unnest(?::int[]) AS k ORDER BY 1) AS s', [ADVISORY_LOCK_SPACE, ints]);
        return;
      }
      for (const key of [...new Set(keys)].sort()) await this.lockUntilCommit(trx, key);
    },
    async lockUntilCommit(trx, key) {
      // One statement instead of two; the two-key form's key space is apart from the one-key locks elsewhere.
      if (name === 'postgres') return void await trx.raw('SELECT pg_advisory_xact_lock(?, ?)', [ADVISORY_LOCK_SPACE, advisoryKey(key)]);
      // The pool's only connection is held by the transaction: no other transaction runs until it ends.
      if (name === 'sqlite') return;
      // Elsewhere a row that lives only inside the transaction: a second writer inserting the same key waits on it.
      await trx('fhir_write_locks').insert({ lock_key: key });
      await trx('fhir_write_locks').where({ lock_key: key }).del();
    },
    async lockUnpublishedOutboxRows(trx, seqs) {
      if (seqs.length === 0) return [];
      const cols = OUTBOX_COLUMNS.join(', ');
      const marks = seqs.map(() => '?').join(', ');
      if (name === 'sqlite') {
        return trx('fhir_outbox').select(OUTBOX_COLUMNS).whereIn('seq', seqs).whereNull('published_at').orderBy('seq');
      }
      if (name === 'mssql') {
        return trx.raw(`SELECT ${cols} FROM fhir_outbox WITH (UPDLOCK, ROWLOCK, READPAST) WHERE seq IN (${marks}) AND published_at IS NULL ORDER BY seq`, seqs) as unknown as Promise<Array<Record<string, unknown>>>;
      }
      if (name === 'oracle') {
        // knex creates Oracle tables and columns with quoted lower-case names: unquoted ones would be upper-cased.
        const quoted = OUTBOX_COLUMNS.map((c) => `"${c}"`).join(', ');
        return trx.raw(`SELECT ${quoted} FROM "fhir_outbox" WHERE "seq" IN (${marks}) AND "published_at" IS NULL FOR UPDATE SKIP LOCKED`, seqs)
          .then((rows: unknown) => (rows as Array<Record<string, unknown>>).sort((a, b) => Number(a.seq) - Number(b.seq)));
      }
      // MySQL 8+, MariaDB 10.6+ (PostgreSQL claims with claimOutboxRun).
      return trx('fhir_outbox').select(OUTBOX_COLUMNS).whereIn('seq', seqs).whereNull('published_at').orderBy('seq').forUpdate().skipLocked();
    },
    ...(name === 'postgres' ? { claimOutboxRun: claimOutboxRunOnPostgres } : {}),
    isUniqueViolation: (err) => isUniqueViolation(err) || (err as { errorNum?: number })?.errorNum === 1,
    isWriteConflict(err) {
      const e = err as { code?: string; errno?: number; errorNum?: number };
      return e?.code === '40P01' || e?.code === '40001' || e?.code === 'ER_LOCK_DEADLOCK' || e?.errno === 1213
        || e?.errno === 1205 || e?.errorNum === 60 || e?.code === 'SQLITE_BUSY';
    },
    bool: (value) => value === true || value === 1 || value === '1' || value === 't',
  };
}

/**
 * The relay's claim on PostgreSQL, in one statement instead of three (the oldest unpublished rows, their row locks,
 * the marks): under a clinical load the relay's cycles were a quarter of all the statements PostgreSQL ran. Rows
 * another relay holds are skipped, and only the unbroken run from the oldest candidate is taken, as on the other
 * databases; a row another relay marked since the candidates were read is re-checked under its lock and left out.
 */
const CLAIM_RUN_PG = `WITH c AS MATERIALIZED (
    SELECT seq, row_number() OVER (ORDER BY seq) AS rn FROM (SELECT seq FROM fhir_outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?) s),
  l AS MATERIALIZED (SELECT o.seq FROM fhir_outbox o WHERE o.seq IN (SELECT seq FROM c) AND o.published_at IS NULL FOR UPDATE SKIP LOCKED),
  run AS (SELECT c.seq FROM c WHERE c.rn < COALESCE((SELECT min(g.rn) FROM c g WHERE g.seq NOT IN (SELECT seq FROM l)), CAST(? AS bigint) + 1))
UPDATE fhir_outbox o SET published_at = ? FROM run WHERE o.seq = run.seq
RETURNING o.seq, o.resource_type, o.resource_id, o.version_id, o.action, o.correlation_id, o.created_at`;

async function claimOutboxRunOnPostgres(trx: Knex.Transaction, limit: number, publishedAt: number): Promise<Array<Record<string, unknown>>> {
  const rows = (await pgStatement(trx, CLAIM_RUN_PG, [limit, limit, publishedAt]))?.rows ?? [];
  return rows.sort((a, b) => Number(a.seq) - Number(b.seq));
}
