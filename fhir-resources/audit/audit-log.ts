import type { AuditEvent } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { MigrationStep, runMigrations } from '../../engine/migrations';
import { WriteBatcher } from '../../engine/write-batcher';
import { pgStatement, preparedOn, preparedRows, sqliteConnectionOf } from '../store/prepared-statements';
import type { IndexTableRows } from '../store/search-index-port';
import { StoreDialect, storeDialect } from '../store/store-dialect';
import { auditColumns } from './audit-event';
import { canonicalJson, chainHash, ChainHash, GENESIS_HASH } from './audit-chain';

export const FHIR_AUDIT_COMPONENT = 'fhir-audit';
export const AUDIT_TABLE = 'fhir_audit_events';
const HEAD_TABLE = 'fhir_audit_head';
const PENDING_TABLE = 'fhir_audit_pending';

/** Append-only: a released step is never edited, a change is a new step. */
const steps: MigrationStep[] = [
  async (db: Knex) => {
    const d = storeDialect(db);
    await db.schema.createTable(AUDIT_TABLE, (t) => {
      t.bigInteger('seq').primary();
      t.string('recorded', 32).notNullable();
      t.string('action', 1).notNullable();
      t.string('outcome', 2).notNullable();
      t.string('subtype', 64).notNullable();
      d.caseSensitive(t.string('agent', 200).notNullable());
      d.caseSensitive(t.string('entity', 200).nullable());
      d.caseSensitive(t.string('patients', 1000).nullable());
      d.contentColumn(t, 'content').notNullable();
      t.string('prev_hash', 128).notNullable();
      t.string('hash', 128).notNullable();
      t.index(['recorded'], 'fhir_audit_recorded');
      t.index(['agent', 'seq'], 'fhir_audit_agent');
      t.index(['entity', 'seq'], 'fhir_audit_entity');
    });
    // One row: the chain's head (last seq and hash) and, after retention pruning, where the kept chain starts.
    await db.schema.createTable(HEAD_TABLE, (t) => {
      t.integer('id').primary();
      t.bigInteger('seq').notNullable();
      t.string('hash', 128).notNullable();
      t.bigInteger('pruned_through').notNullable();
      t.string('anchor_hash', 128).notNullable();
    });
    await db(HEAD_TABLE).insert({ id: 1, seq: 0, hash: GENESIS_HASH, pruned_through: 0, anchor_hash: GENESIS_HASH });
  },
  async (db: Knex) => {
    // Records written in a write's transaction, waiting to be chained (see AuditLog.append).
    await db.schema.createTable(PENDING_TABLE, (t) => {
      t.increments('id').primary();
      storeDialect(db).contentColumn(t, 'content').notNullable();
    });
  },
];

export interface ChainCheck {
  intact: boolean;
  /** Records whose hash was recomputed. */
  checked: number;
  /** The first record where the chain breaks, and how. */
  broken?: { seq: number; reason: string };
}


interface PendingRow { id: number; content: string }

/** Records to chain now, a writer's pending records known by id, or `lookup`: pending records to be found. */
interface SealRequest { events: AuditEvent[]; pending?: PendingRow[]; lookup?: boolean }

interface ChainHead { seq: number; hash: string }

interface HeadRow extends ChainHead { prunedThrough: number; anchorHash: string }

/** The chain head a row names (the head table's, a snapshot's, a chained record's). */
function chainHeadOf(row: Record<string, unknown>): ChainHead {
  return { seq: Number(row.seq), hash: String(row.hash) };
}

/** A pending record as the database hands it back (a snapshot, or the writer's own RETURNING). */
function pendingRowOf(row: Record<string, unknown>): PendingRow {
  return { id: Number(row.id), content: String(row.content) };
}

const AUDIT_COLUMNS = ['seq', 'recorded', 'action', 'outcome', 'subtype', 'agent', 'entity', 'patients', 'content', 'prev_hash', 'hash'] as const;

type AuditRow = Record<(typeof AUDIT_COLUMNS)[number], string | number | null>;

const OPTIMISTIC_TRIES = 3;
const PENDING_PER_SEAL = 5_000;
/** The head and the oldest pending records in one snapshot: a row per record, or one with a null id for none. */
const SNAPSHOT_SQL = `SELECT h.seq, h.hash, p.id, p.content FROM ${HEAD_TABLE} h
  LEFT JOIN (SELECT id, content FROM ${PENDING_TABLE} ORDER BY id LIMIT ?) p ON true WHERE h.id = 1 ORDER BY p.id`;
/**
 * Arrays, one per column, keep the text the same whatever the batch size: one named statement, planned once. Gated
 * on the head it was chained from and on every pending record it chains still being pending: one that another
 * sealer chained meanwhile is not chained twice.
 */
const GATED_SEAL_SQL = `WITH h AS (UPDATE ${HEAD_TABLE} SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?
    AND (SELECT count(*) FROM ${PENDING_TABLE} WHERE id = ANY(?::int[])) = ? RETURNING id),
  e AS (INSERT INTO ${AUDIT_TABLE} (${AUDIT_COLUMNS.join(', ')})
    SELECT * FROM unnest(?::bigint[], ${AUDIT_COLUMNS.slice(1).map(() => '?::text[]').join(', ')}) WHERE EXISTS (SELECT 1 FROM h)),
  d AS (DELETE FROM ${PENDING_TABLE} WHERE id = ANY(?::int[]) AND EXISTS (SELECT 1 FROM h))
  SELECT id FROM h`;

/**
 * The audit trail (等保 安全审计): AuditEvents in a hash-chained, append-only table.
 *
 * A write's record is inserted in the write's transaction, so it commits or rolls back with the write, into a
 * pending table; the writer then waits for `seal`, which chains every pending record in one transaction under the
 * chain head's row lock. Chaining inside each write's transaction held that lock across the write's commit (an
 * fsync on PostgreSQL), which serialised all writers on it: about 70 CRUD requests/s. Records of no write (reads,
 * searches, refusals, failures after a rollback) go straight into the same group-committed chaining transaction.
 * Either way a caller answers only once its records are chained; a record left pending by a crash between commit
 * and seal is chained by the next seal.
 */
export class AuditLog {
  private readonly batcher: WriteBatcher<SealRequest>;
  private readonly dialect: StoreDialect;
  /**
   * The head this log last moved the chain to (PostgreSQL). Records of no write (every read and search) are chained
   * from it without reading the head first; if another node moved the head since, the compare-and-set says so.
   */
  private knownHead?: ChainHead;

  constructor(readonly db: Knex, readonly algorithm: ChainHash = 'sha256') {
    this.dialect = storeDialect(db);
    this.batcher = new WriteBatcher(db, {
      maxBatch: 256,
      apply: (trx, requests) => this.chain(trx, requests.flatMap((r) => r.events)),
      single: (requests) => (this.dialect.name === 'postgres' ? (db) => this.chainOptimistically(db, requests) : undefined),
      retryable: (err) => this.dialect.isWriteConflict(err),
      isolateFailures: true,
    });
  }

  async migrate(): Promise<void> {
    await runMigrations(this.db, FHIR_AUDIT_COMPONENT, steps);
  }

  /**
   * In `trx` (a write's transaction): records to be chained by the next `seal` after commit. Without: chained now,
   * together with whatever other callers append or seal meanwhile; resolves once committed.
   */
  async append(events: AuditEvent[], trx?: Knex.Transaction): Promise<void> {
    if (events.length === 0) return;
    if (!trx) return this.batcher.submit({ events });
    const rows = events.map((event) => ({ content: JSON.stringify(event) }));
    for (let i = 0; i < rows.length; i += 100) await trx(PENDING_TABLE).insert(rows.slice(i, i + 100));
  }

  /**
   * Records as rows of the pending table, for a write that inserts them itself in its own statement (the store's
   * `createAlone`); the writer then calls `seal` after its commit, as after `append` in a transaction.
   */
  pendingRows(events: AuditEvent[]): IndexTableRows {
    return { table: PENDING_TABLE, columns: ['content'], values: events.map((event) => [JSON.stringify(event)]), returning: ['id', 'content'] };
  }

  /**
   * Chains the records committed as pending so far; a writer calls it after its commit, before it answers. With the
   * rows it wrote from `pendingRows`, if the store handed back their ids, they are chained without looking for them.
   */
  seal(written?: IndexTableRows[]): Promise<void> {
    const known = written?.every((rows) => rows.returned) ? written.flatMap((rows) => rows.returned!) : undefined;
    if (!known) return this.batcher.submit({ events: [], lookup: true });
    return this.batcher.submit({ events: [], pending: known.map(pendingRowOf) });
  }

  /** Pending records (oldest first), then `events`, onto the chain. */
  private async chain(trx: Knex.Transaction, events: AuditEvent[]): Promise<void> {
    this.knownHead = undefined;
    const sqlite = await sqliteConnectionOf(trx);
    if (sqlite) return this.chainOnSqlite(sqlite, events);
    const head = await this.head(trx, true);
    // Read after taking the head lock, which orders sealers (on every node): what an earlier one chained is gone.
    // No row locks here: on MySQL they would be gap locks that stop writers inserting pending records meanwhile.
    const pending: PendingRow[] = await trx(PENDING_TABLE).select('id', 'content').orderBy('id');
    const rows = this.chainedRows(head, pending, events);
    if (rows.length === 0) return;
    const ids = pending.map((p) => p.id);
    const last = rows[rows.length - 1];
    if (this.dialect.name === 'postgres' && rows.length <= 1_000 && ids.length <= 5_000) {
      // One round trip for the write half: records, pending rows and head as data-modifying CTEs of one statement.
      const statement = trx.with('e', trx(AUDIT_TABLE).insert(rows));
      if (ids.length > 0) statement.with('d', trx(PENDING_TABLE).whereIn('id', ids).delete());
      await statement.table(HEAD_TABLE).where({ id: 1 }).update({ seq: last.seq, hash: last.hash });
      return;
    }
    for (let i = 0; i < rows.length; i += 100) await trx(AUDIT_TABLE).insert(rows.slice(i, i + 100));
    for (let i = 0; i < ids.length; i += 500) await trx(PENDING_TABLE).whereIn('id', ids.slice(i, i + 500)).delete();
    await trx(HEAD_TABLE).where({ id: 1 }).update({ seq: last.seq, hash: last.hash });
  }

  /**
   * `chain` on PostgreSQL without a transaction: one statement reads the head and the pending records, one writes the
   * records, deletes the pending rows and moves the head, all gated on a compare-and-set of the head, so a sealer on
   * another node that got in between makes this one read again. A seal is 2 round trips instead of 5 (BEGIN, the
   * locked head, the pending rows, the write, COMMIT), and nothing is locked while the hashes are computed: under a
   * CRUD load the writers' answers waited mostly for seals queued behind one another. Falls back to the locked
   * transaction after repeated losses.
   *
   * With the head this log left known and every writer's pending records known by id, the snapshot is skipped: a
   * seal is then one round trip. Each round trip on a busy machine waits for the database process and then this
   * event loop to be scheduled: the snapshot was a third of a search's wait for its audit record.
   */
  private async chainOptimistically(db: Knex, requests: SealRequest[]): Promise<void> {
    let events = requests.flatMap((r) => r.events);
    const lookup = requests.some((r) => r.lookup);
    for (let losses = 0; losses < OPTIMISTIC_TRIES;) {
      const known = lookup ? undefined : this.knownHead;
      this.knownHead = undefined;
      let head = known;
      let pending: PendingRow[] = known ? requests.flatMap((r) => r.pending ?? []) : [];
      if (!head) {
        const snapshot = await preparedRows(db, 'lingshu_audit_snapshot', SNAPSHOT_SQL, [PENDING_PER_SEAL]);
        if (!snapshot?.length) break;
        head = chainHeadOf(snapshot[0]);
        pending = snapshot.filter((r) => r.id !== null).map(pendingRowOf);
      }
      const rows = this.chainedRows(head, pending, events);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1];
      const ids = pending.map((p) => p.id);
      const written = await pgStatement(db, GATED_SEAL_SQL, [
        last.seq, last.hash, head.seq, head.hash, ids, ids.length,
        ...AUDIT_COLUMNS.map((c) => rows.map((r) => r[c])),
        ids,
      ]);
      if (written?.rowCount !== 1) {
        // A remembered head that moved meanwhile is no lost race: the next try reads the head.
        if (!known) losses++;
        continue;
      }
      this.knownHead = chainHeadOf(last);
      // Records beyond this seal's share of a backlog (after a crash) may be a waiting writer's: seal on.
      if (pending.length < PENDING_PER_SEAL) return;
      events = [];
    }
    await db.transaction((trx) => this.chain(trx, events), this.dialect.transactionConfig);
  }

  /**
   * `chain` on SQLite's one connection, inside the batch's transaction, with statements prepared once: every read
   * is audited, and knex compiling a new multi-row INSERT per batch cost more than the rows themselves.
   */
  private chainOnSqlite(connection: Parameters<typeof preparedOn>[0], events: AuditEvent[]): void {
    const sql = (text: string) => preparedOn(connection, text);
    const [head] = sql(`select seq, hash from ${HEAD_TABLE} where id = 1`).all();
    const pending = sql(`select id, content from ${PENDING_TABLE} order by id`).all() as unknown as PendingRow[];
    const rows = this.chainedRows(chainHeadOf(head), pending, events);
    if (rows.length === 0) return;
    const insert = sql(`insert into ${AUDIT_TABLE} (${AUDIT_COLUMNS.join(', ')}) values (${AUDIT_COLUMNS.map(() => '?').join(', ')})`);
    for (const row of rows) insert.run(...AUDIT_COLUMNS.map((c) => row[c]));
    const remove = sql(`delete from ${PENDING_TABLE} where id = ?`);
    for (const p of pending) remove.run(p.id);
    const last = rows[rows.length - 1];
    sql(`update ${HEAD_TABLE} set seq = ?, hash = ? where id = 1`).run(last.seq, last.hash);
  }

  private chainedRows(head: ChainHead, pending: PendingRow[], events: AuditEvent[]): AuditRow[] {
    const all = [...pending.map((p) => JSON.parse(p.content) as AuditEvent), ...events];
    let { seq, hash } = head;
    return all.map((event) => {
      seq += 1;
      const stored: AuditEvent = { ...event, id: String(seq) };
      const content = canonicalJson(stored);
      const prev = hash;
      hash = chainHash(this.algorithm, prev, content);
      return { seq, recorded: stored.recorded ?? new Date().toISOString(), ...auditColumns(stored), content, prev_hash: prev, hash };
    });
  }

  async read(id: string, q: Knex | Knex.Transaction = this.db): Promise<AuditEvent | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const row = await q(AUDIT_TABLE).select('content').where({ seq: Number(id) }).first();
    return row ? (JSON.parse(row.content) as AuditEvent) : undefined;
  }

  /**
   * Recomputes the chain from where retention left it to the head: a record edited in place, deleted, or inserted
   * out of sequence is reported with its seq.
   */
  async verifyChain(): Promise<ChainCheck> {
    const head = await this.head(this.db, false);
    let expectedSeq = head.prunedThrough + 1;
    let prev = head.anchorHash;
    let checked = 0;
    for (;;) {
      const rows = await this.db(AUDIT_TABLE).select('seq', 'content', 'prev_hash', 'hash')
        .where('seq', '>=', expectedSeq).orderBy('seq').limit(1000);
      if (rows.length === 0) break;
      for (const row of rows) {
        const seq = Number(row.seq);
        if (seq !== expectedSeq) return { intact: false, checked, broken: { seq: expectedSeq, reason: `record ${expectedSeq} is missing` } };
        if (row.prev_hash !== prev) return { intact: false, checked, broken: { seq, reason: `record ${seq} does not link to record ${seq - 1}` } };
        let content: unknown;
        try {
          content = JSON.parse(row.content);
        } catch {
          return { intact: false, checked, broken: { seq, reason: `record ${seq} is not valid JSON` } };
        }
        const hash = chainHash(this.algorithm, prev, canonicalJson(content));
        checked++;
        if (hash !== row.hash || (content as AuditEvent).id !== String(seq)) {
          return { intact: false, checked, broken: { seq, reason: `record ${seq} was changed after it was written` } };
        }
        prev = row.hash;
        expectedSeq++;
      }
    }
    if (expectedSeq - 1 !== head.seq || prev !== head.hash) {
      return { intact: false, checked, broken: { seq: expectedSeq, reason: `records after ${expectedSeq - 1} up to the head (${head.seq}) are missing` } };
    }
    return { intact: true, checked };
  }

  /**
   * Retention: removes records recorded before `days` ago. The hash of the last removed record becomes the anchor
   * the kept chain is checked from, so pruning by policy is not reported as tampering. `days` 0 keeps everything.
   */
  async prune(days: number, now = Date.now()): Promise<number> {
    if (days <= 0) return 0;
    const cutoff = new Date(now - days * 86_400_000).toISOString();
    return this.db.transaction(async (trx) => {
      const head = await this.head(trx, true);
      const last = await trx(AUDIT_TABLE).select('seq', 'hash').where('recorded', '<', cutoff).where('seq', '>', head.prunedThrough)
        .orderBy('seq', 'desc').first();
      if (!last) return 0;
      const removed = await trx(AUDIT_TABLE).where('seq', '<=', Number(last.seq)).delete();
      await trx(HEAD_TABLE).where({ id: 1 }).update({ pruned_through: Number(last.seq), anchor_hash: last.hash });
      return removed;
    }, this.dialect.transactionConfig);
  }

  private async head(q: Knex | Knex.Transaction, lock: boolean): Promise<HeadRow> {
    const query = q(HEAD_TABLE).select('seq', 'hash', 'pruned_through', 'anchor_hash').where({ id: 1 });
    const [row] = await (lock ? this.dialect.forUpdate(query) : query);
    return { seq: Number(row.seq), hash: row.hash, prunedThrough: Number(row.pruned_through), anchorHash: row.anchor_hash };
  }
}
