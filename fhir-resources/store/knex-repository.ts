import { Knex } from 'knex';
import { OperationOutcomeError, SearchRequest, parseSearchRequest } from '@medplum/core';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import type {
  CreateOptions, HistoryOptions, HistoryResult, JsonPatchOperation, Repository, RequestContext, SearchOptions, LockedMatch,
  SearchResult, UpdateOptions, WriteResult,
} from './repository';
import { forgetLockedRow, lockedRow, rememberLockedRow } from './locked-rows';
import { lockCondition, lockConditions } from './condition-locks';
import { forgetMatchesChangedBy, matchesReadAhead, notReadAhead, rememberMatches } from './condition-matches';
import { ContentCodec, plainJsonContent } from './content-codec';
import { CurrentRow, currentRowOutsideTransaction, readCurrentRow } from './current-row';
import { prepareForWrite } from './prepare-write';
import { newResourceId } from './resource-ids';
import type { IndexTableRows, SearchIndex } from './search-index-port';
import { StoreDialect, storeDialect } from './store-dialect';
import { readHistory } from './store-history';
import { VersionWrite, writeVersion } from './version-writer';
import { writeAlone } from './alone-batch';
import { takeCompanions } from './write-companions';
import { deferVersion, sentWith } from './deferred-versions';
import { applyJsonPatch } from './json-patch';
import { nextInstant, parseETag } from './version-stamps';
import {
  concurrentWrite, invalidRequest, resourceGone, resourceNotFound, tooManyMatches, versionMismatch,
} from './store-outcomes';

export interface KnexRepositoryOptions {
  context?: RequestContext;
  /** Called after every committed write transaction: the outbox relay's wake-up. */
  onCommit?: () => void;
  /** How `content` is encoded; plain JSON by default, field encryption with the privacy module. */
  codec?: ContentCodec;
}

type Method = 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Action = 'create' | 'update' | 'delete';

/** Runs of a write transaction that lost a race (deadlock, duplicate key) before the caller sees 409. */
const WRITE_ATTEMPTS = 3;

/**
 * The FHIR store on knex. Every write runs in one transaction that writes the resource row, its history row, its
 * search index rows and one outbox row, so a committed write always has its change event and a rolled-back one has
 * none. Concurrent writers to one resource are serialised by a row lock on `fhir_resources` (SELECT … FOR UPDATE;
 * SQLite has one writer) and the UPDATE compares the version it read, so no update is lost. A write that is all its
 * transaction would hold (`createAlone`, `replaceAlone`) is one statement on PostgreSQL, atomic by itself, where the
 * compare-and-set alone guards the version.
 */
export class KnexRepository implements Repository {
  private readonly dialect: StoreDialect;
  private readonly codec: ContentCodec;

  constructor(
    private readonly db: Knex,
    private readonly searchIndex: SearchIndex,
    private readonly options: KnexRepositoryOptions = {},
    /** Set on the repository handed to a transaction callback. */
    private readonly trx?: Knex.Transaction,
  ) {
    this.dialect = storeDialect(db);
    this.codec = options.codec ?? plainJsonContent;
  }

  withContext(context: RequestContext): KnexRepository {
    return new KnexRepository(this.db, this.searchIndex, { ...this.options, context }, this.trx);
  }

  /** Where this repository's queries run (its transaction, or the pool), for wrappers that read alongside it. */
  get connection(): Knex | Knex.Transaction {
    return this.query();
  }

  /** The caller's context (correlation id, author), for layers that wrap this repository. */
  get context(): RequestContext | undefined {
    return this.options.context;
  }

  async transaction<T>(fn: (repo: Repository) => Promise<T>): Promise<T> {
    return this.transactionWith((repo) => fn(repo));
  }

  /**
   * `transaction` that also hands over the knex transaction, for rows that must commit with the writes but are not
   * resources (the audit trail, written by fhir-resources/audit in the same transaction as the write it records).
   */
  async transactionWith<T>(fn: (repo: KnexRepository, trx: Knex.Transaction) => Promise<T>): Promise<T> {
    if (this.trx) return fn(this, this.trx);
    const result = await this.db.transaction(
      async (trx) => sentWith(trx, await fn(new KnexRepository(this.db, this.searchIndex, this.options, trx), trx)),
      this.dialect.transactionConfig,
    );
    this.options.onCommit?.();
    return result;
  }

  async create<T extends Resource>(resource: T, options: CreateOptions = {}): Promise<WriteResult<T>> {
    const incoming = prepareForWrite({ ...resource, id: newResourceId() });
    return this.write(resource.resourceType, async (trx) => {
      if (options.ifNoneExist !== undefined) {
        const match = await this.findOne<T>(trx, resource.resourceType, options.ifNoneExist);
        if (match) return { resource: match, created: false };
      }
      const stored = await this.putVersion(trx, incoming, undefined, 'POST', 'create');
      return { resource: stored, created: true };
    });
  }

  async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T> {
    const row = this.trx ? await readCurrentRow(this.dialect, this.trx, resourceType, id, false) : await currentRowOutsideTransaction(this.db, this.dialect, resourceType, id);
    if (!row) throw resourceNotFound(`${resourceType}/${id}`);
    if (row.deleted) throw resourceGone(`${resourceType}/${id}`);
    return this.codec.decode(row.content) as T;
  }

  async vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<T> {
    const ref = `${resourceType}/${id}/_history/${versionId}`;
    if (!/^[1-9]\d{0,9}$/.test(versionId)) throw resourceNotFound(ref);
    const row = await this.query()('fhir_history').select('deleted', 'content')
      .where({ resource_type: resourceType, id, version_id: Number(versionId) }).first();
    if (!row) throw resourceNotFound(ref);
    if (this.dialect.bool(row.deleted)) throw resourceGone(ref);
    return this.codec.decode(row.content) as T;
  }

  async update<T extends Resource>(resource: T, options: UpdateOptions = {}): Promise<WriteResult<T>> {
    const incoming = prepareForWrite(resource);
    const ref = `${resource.resourceType}/${resource.id}`;
    return this.write(ref, (trx) => this.updateIn(trx, incoming, options.ifMatch, 'PUT'));
  }

  async conditionalUpdate<T extends Resource>(resource: T, search: string): Promise<WriteResult<T>> {
    return this.write(resource.resourceType, async (trx) => {
      const match = await this.findOne<T>(trx, resource.resourceType, search);
      if (!match) {
        if (resource.id) return this.updateIn(trx, prepareForWrite(resource), undefined, 'PUT');
        const stored = await this.putVersion(trx, prepareForWrite({ ...resource, id: newResourceId() }), undefined, 'POST', 'create');
        return { resource: stored, created: true };
      }
      if (resource.id && resource.id !== match.id) {
        throw invalidRequest(`The resource's id ${resource.id} differs from ${match.id}, the one "${search}" matches.`, `${resource.resourceType}.id`);
      }
      return this.updateIn(trx, prepareForWrite({ ...resource, id: match.id }), undefined, 'PUT');
    });
  }

  async patch<T extends Resource>(
    resourceType: T['resourceType'], id: string, patch: JsonPatchOperation[], options: UpdateOptions = {},
  ): Promise<T> {
    const ref = `${resourceType}/${id}`;
    return this.write(ref, async (trx) => {
      const prev = await this.lockedCurrent(trx, resourceType, id);
      if (!prev) throw resourceNotFound(ref);
      if (prev.deleted) throw resourceGone(ref);
      this.checkIfMatch(ref, options.ifMatch, prev);
      const patched = applyJsonPatch(this.codec.decode(prev.content) as T, patch);
      if (patched.resourceType !== resourceType || patched.id !== id) {
        throw invalidRequest(`A patch may not change the resource type or id of ${ref}.`, `${resourceType}.id`);
      }
      return this.putVersion(trx, prepareForWrite(patched), prev, 'PATCH', 'update');
    });
  }

  async delete(resourceType: ResourceType, id: string): Promise<void> {
    const ref = `${resourceType}/${id}`;
    await this.write(ref, async (trx) => {
      const prev = await this.lockedCurrent(trx, resourceType, id);
      if (!prev || prev.deleted) return;
      await this.putVersion(trx, { resourceType, id } as Resource, prev, 'DELETE', 'delete');
    });
  }

  async history(resourceType?: ResourceType, id?: string, options?: HistoryOptions): Promise<HistoryResult> {
    const result = await readHistory(this.query(), this.dialect, resourceType, id, options, this.codec);
    // An empty first page of an instance history: a resource that never existed is 404, not an empty Bundle.
    if (resourceType && id && result.entries.length === 0 && !options?.cursor && !options?.since) {
      if (!(await readCurrentRow(this.dialect, this.query(), resourceType, id, false))) throw resourceNotFound(`${resourceType}/${id}`);
    }
    return result;
  }

  search(request: SearchRequest, options?: SearchOptions): Promise<SearchResult> {
    return this.searchIndex.search(this.query(), request, options);
  }

  private query(): Knex | Knex.Transaction {
    return this.trx ?? this.db;
  }

  /**
   * Runs `fn` in this repository's transaction, or in a new one that commits before the relay is woken. A unique
   * violation (two creators of one id) or a deadlock means a concurrent writer got there first: a transaction of our
   * own is run again from the start (it then sees the winner's row); inside a caller's transaction, or after the last
   * attempt, the caller gets 409 and may retry.
   */
  private async write<T>(ref: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.trx) return await fn(this.trx);
        const result = await this.db.transaction(async (trx) => sentWith(trx, await fn(trx)), this.dialect.transactionConfig);
        this.options.onCommit?.();
        return result;
      } catch (err) {
        if (err instanceof OperationOutcomeError) throw err;
        if (!this.dialect.isUniqueViolation(err) && !this.dialect.isWriteConflict(err)) throw err;
        if (this.trx || attempt >= WRITE_ATTEMPTS) throw concurrentWrite(ref);
      }
    }
  }

  private async updateIn<T extends Resource>(
    trx: Knex.Transaction, incoming: T, ifMatch: string | undefined, method: Method,
  ): Promise<WriteResult<T>> {
    const ref = `${incoming.resourceType}/${incoming.id}`;
    const prev = await this.lockedCurrent(trx, incoming.resourceType, incoming.id as string);
    this.checkIfMatch(ref, ifMatch, prev);
    const live = prev !== undefined && !prev.deleted;
    const stored = await this.putVersion(trx, incoming, prev, method, live ? 'update' : 'create');
    return { resource: stored, created: !live };
  }

  private checkIfMatch(ref: string, ifMatch: string | undefined, prev: CurrentRow | undefined): void {
    if (ifMatch === undefined) return;
    const expected = parseETag(ifMatch);
    if (!prev || String(prev.versionId) !== expected) throw versionMismatch(ref, expected, prev ? String(prev.versionId) : undefined);
  }

  /**
   * In a transaction: the live resource a write is about to replace, its row locked until commit (undefined when
   * missing or deleted). The write that follows in the same transaction reuses the locked row (locked-rows.ts).
   * Outside one, a plain read: there is nothing to hold a lock for.
   */
  async readForWrite<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T | undefined> {
    const row = this.trx ? await this.lockedCurrent(this.trx, resourceType, id) : await currentRowOutsideTransaction(this.db, this.dialect, resourceType, id);
    return row && !row.deleted ? (this.codec.decode(row.content) as T) : undefined;
  }

  /** The current row under a row lock, read once per transaction. */
  private async lockedCurrent(trx: Knex.Transaction, resourceType: string, id: string): Promise<CurrentRow | undefined> {
    const ref = `${resourceType}/${id}`;
    const kept = lockedRow<CurrentRow>(trx, ref);
    if (kept) return kept;
    const row = await readCurrentRow(this.dialect, trx, resourceType, id, true);
    rememberLockedRow(trx, ref, row);
    return row;
  }

  /**
   * The one resource a conditional interaction's search matches; several → 412. Two requests with the same
   * condition at once would both find nothing and both create, so the condition is first locked for the rest of
   * the transaction (the second waits, then finds what the first created).
   */
  private async findOne<T extends Resource>(trx: Knex.Transaction, resourceType: string, search: string): Promise<T | undefined> {
    const condition = `${resourceType}?${search.startsWith('?') ? search.slice(1) : search}`;
    await lockCondition(this.dialect, trx, condition);
    const result = matchesReadAhead(trx, condition) ?? await this.searchIndex.search(trx, this.conditionRequest(condition, search), { strict: true });
    if (result.resources.length > 1) throw tooManyMatches(search);
    return result.resources[0] as T | undefined;
  }

  /** A condition as the search it is: two matches are enough to tell one from several. */
  private conditionRequest(condition: string, search = condition): SearchRequest {
    try {
      return { ...(this.searchIndex.parse?.(condition) ?? parseSearchRequest(condition)), count: 2 };
    } catch (err) {
      throw invalidRequest(`The condition "${search}" is not a valid search: ${(err as Error).message}`);
    }
  }

  /**
   * Takes, in one go, the locks of the conditional interactions (`Type?search`) a transaction is about to run, then
   * reads what they match in one more round trip (condition-matches.ts); each conditional create or update then
   * finds its lock held and its match read. A condition that does not parse is left to its interaction, which
   * reports it where it stands in the Bundle. Outside a transaction there is nothing to hold them for.
   */
  async prepareConditions(conditions: string[]): Promise<void> {
    if (!this.trx) return;
    await lockConditions(this.dialect, this.trx, conditions);
    if (!this.searchIndex.searchMany) return;
    const requests: Array<{ condition: string; request: SearchRequest }> = [];
    for (const condition of new Set(notReadAhead(this.trx, conditions))) {
      try {
        requests.push({ condition, request: this.conditionRequest(condition) });
      } catch {
        continue;
      }
    }
    if (requests.length < 2) return;
    let results: SearchResult[];
    try {
      // The matches are locked as they are read: a conditional update of one then finds its row locked and read.
      const lockMatches = (m: LockedMatch) => rememberLockedRow<CurrentRow>(this.trx!, `${m.resourceType}/${m.id}`, { ...m, deleted: false });
      results = await this.searchIndex.searchMany(this.trx, requests.map((r) => r.request), { strict: true, lockMatches });
    } catch (err) {
      // A search the strict parser refuses is refused again, located, by its own interaction.
      if (err instanceof OperationOutcomeError) return;
      throw err;
    }
    requests.forEach(({ condition, request }, i) => rememberMatches(this.trx!, condition, request, results[i]));
  }

  /**
   * A create that is all its transaction would hold, with `companions(stored)` (rows that must commit with it: its
   * audit record) written with it. On PostgreSQL one statement in autocommit (alone-batch.ts) instead of BEGIN,
   * the version, the companions and COMMIT; elsewhere, inside a caller's transaction, or for a resource too large for
   * one statement, an ordinary transaction.
   */
  async createAlone<T extends Resource>(resource: T, companions: (stored: T) => IndexTableRows[]): Promise<WriteResult<T>> {
    const incoming = prepareForWrite({ ...resource, id: newResourceId() });
    if (!this.trx && this.searchIndex.indexRows) {
      const { write, stored } = this.versionWrite(incoming, undefined, 'POST', 'create');
      write.companions = companions(stored);
      const written = await writeAlone(this.db, this.dialect, write);
      if (written !== undefined) {
        if (!written) throw concurrentWrite(`${stored.resourceType}/${stored.id}`);
        this.options.onCommit?.();
        return { resource: stored, created: true };
      }
    }
    return this.write(resource.resourceType, async (trx) => ({ resource: await this.putVersion(trx, incoming, undefined, 'POST', 'create', companions), created: true }));
  }

  /**
   * An update (`next`) or delete (`next` undefined) of a live resource that is all its transaction would hold, on
   * PostgreSQL without one: the current row is read without a lock, `guard` sees the resource it would replace, and
   * one statement in autocommit writes the version with its companions, its compare-and-set on the version read
   * standing in for the row lock. A writer that got in between makes it read again, once. Undefined, with nothing
   * written, where the caller must use a transaction instead: another dialect, no live version (create-on-update,
   * delete of nothing), a second lost race, a resource too large for one statement.
   */
  async replaceAlone<T extends Resource>(
    resourceType: T['resourceType'], id: string, next: T | undefined, ifMatch: string | undefined,
    guard: (prev: T) => Promise<void>, companions: (stored: T) => IndexTableRows[],
  ): Promise<T | undefined> {
    if (this.trx || !this.searchIndex.indexRows || this.dialect.name !== 'postgres') return undefined;
    let incoming: T | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const prev = await currentRowOutsideTransaction(this.db, this.dialect, resourceType, id);
      if (!prev || prev.deleted) return undefined;
      await guard(this.codec.decode(prev.content) as T);
      this.checkIfMatch(`${resourceType}/${id}`, ifMatch, prev);
      // After the guard, as inside a transaction: a caller who may not write learns nothing from validation.
      incoming ??= next ? prepareForWrite(next) : ({ resourceType, id } as T);
      const { write, stored } = this.versionWrite(incoming, prev, next ? 'PUT' : 'DELETE', next ? 'update' : 'delete');
      write.companions = companions(stored);
      const written = await writeAlone(this.db, this.dialect, write);
      if (written === undefined) return undefined;
      if (written) {
        this.options.onCommit?.();
        return stored;
      }
    }
    return undefined;
  }

  /** Version prev+1 of the resource as the version writer takes it, and the resource as stored. */
  private versionWrite<T extends Resource>(resource: T, prev: CurrentRow | undefined, method: Method, action: Action): { write: VersionWrite; stored: T } {
    const versionId = (prev?.versionId ?? 0) + 1;
    const lastUpdated = nextInstant(prev?.lastUpdated);
    const deleted = action === 'delete';
    const stored = { ...resource, meta: { ...resource.meta, versionId: String(versionId), lastUpdated } } as T;
    // A search index that hands over its rows has them written with the version; another one is called after it.
    const rowsOf = this.searchIndex.indexRows?.bind(this.searchIndex);
    const write: VersionWrite = {
      resourceType: resource.resourceType, id: resource.id as string, versionId, lastUpdated, deleted, content: this.codec.encode(stored), method, action,
      correlationId: this.options.context?.correlationId?.slice(0, 128) ?? null,
      previous: prev?.versionId,
      index: rowsOf && !deleted ? rowsOf(stored) : [],
      // No current row before: the resource never existed, so it has no index rows either.
      clearIndex: rowsOf && prev ? this.searchIndex.indexTables ?? [] : [],
    };
    return { write, stored };
  }

  /** Writes version prev+1 of the resource: current row, history row, index rows and the outbox event. */
  private async putVersion<T extends Resource>(
    trx: Knex.Transaction, resource: T, prev: CurrentRow | undefined, method: Method, action: Action, companions?: (stored: T) => IndexTableRows[],
  ): Promise<T> {
    const resourceType = resource.resourceType;
    const id = resource.id as string;
    const deleted = action === 'delete';
    const { write, stored } = this.versionWrite(resource, prev, method, action);
    const withVersion = companions ?? takeCompanions(trx);
    if (withVersion) write.companions = withVersion(stored);
    const rowsOf = this.searchIndex.indexRows;
    // With its index rows in hand the version can wait to go out with the transaction's others (deferred-versions.ts).
    const written = (rowsOf && (await deferVersion(trx, write))) || (await writeVersion(trx, this.dialect, write));
    forgetLockedRow(trx, `${resourceType}/${id}`);
    forgetMatchesChangedBy(trx, stored, this.searchIndex.matcherFor?.(stored) ?? (() => true));
    // Compare-and-set on the version read under the lock: a writer that slipped past it updates nothing.
    if (!written) throw concurrentWrite(`${resourceType}/${id}`);
    if (!rowsOf) {
      if (deleted) await this.searchIndex.unindex(trx, resourceType, id);
      else await this.searchIndex.index(trx, stored, prev === undefined);
    }
    return stored;
  }
}

