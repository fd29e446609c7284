import { deepClone, formatSearchQuery, getStatus, OperationOutcomeError, type SearchRequest } from '@medplum/core';
import type { AuditEvent, Resource, ResourceType } from '@medplum/fhirtypes';
import { applyPatch } from 'fast-json-patch';
import type { Knex } from 'knex';
import { auditEvent, type AuditActor, type AuditDraft, type AuditOutcome } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import { searchAuditLog } from '../audit/audit-search';
import { maskPersonalFields } from '../privacy/protected-fields';
import type { ElevatableRepository, OperationCaller } from '../operations/operation';
import type { KnexRepository } from '../store/knex-repository';
import type { IndexTableRows } from '../store/search-index-port';
import { offerCompanions, takeCompanions } from '../store/write-companions';
import type {
  CreateOptions, HistoryOptions, HistoryResult, JsonPatchOperation, Repository, RequestContext, SearchOptions,
  SearchResult, UpdateOptions, WriteResult,
} from '../store/repository';
import { resourceNotFound } from '../store/store-outcomes';
import { AccessControl, forbidden } from './access-control';
import { compartmentPatientsOf } from './patient-compartment';

export interface GuardOptions {
  access: AccessControl;
  audit: AuditLog;
  actor: AuditActor;
  correlationId?: string;
  /** Personal fields masked in search results (list views). */
  maskLists: boolean;
  /** Personal fields masked everywhere (roles with no need to see them, e.g. operators). */
  maskAlways: boolean;
}

/** The audit events of one transaction: written in it on commit, or after it when it rolls back. */
interface TxScope {
  trx: Knex.Transaction;
  pending: AuditEvent[];
  failed: AuditEvent[];
}

const OK: AuditOutcome = { code: '0' };

function failureOf(err: unknown): AuditOutcome {
  if (err instanceof OperationOutcomeError) {
    const issue = err.outcome.issue?.[0];
    const status = getStatus(err.outcome);
    return { code: status >= 500 ? '8' : '4', text: `${status} ${issue?.code ?? ''}: ${issue?.diagnostics ?? issue?.details?.text ?? ''}`.trim().slice(0, 500) };
  }
  return { code: '8', text: 'internal error' };
}

function patientsOf(resource: Resource | undefined): string[] {
  return resource ? compartmentPatientsOf(resource).map((id) => `Patient/${id}`) : [];
}

/**
 * The repository as one caller may use it. Every interaction is checked (role and scopes by type, compartment by row:
 * searches carry the SQL restriction, single resources are checked before they are returned or changed) and
 * recorded as an AuditEvent: a write's record commits in the write's transaction, a refused or failed call is recorded
 * after its transaction rolled back. Resources outside the caller's compartment are answered as not found, so their
 * existence is not revealed; a type or write the role may not touch is 403.
 */
export class AuthorizedRepository implements ElevatableRepository {
  constructor(private readonly store: KnexRepository, private readonly o: GuardOptions, private readonly scope?: TxScope) {}

  get access(): AccessControl {
    return this.o.access;
  }

  withContext(context: RequestContext): Repository {
    return new AuthorizedRepository(this.store.withContext(context), this.o, this.scope);
  }

  /** The store without this caller's checks, bound to the same transaction: for workflow operations' own records. */
  elevated(): Repository {
    return this.store;
  }

  caller(): OperationCaller {
    const p = this.o.access.principal;
    return {
      role: p.role,
      reference: p.reference,
      ...(p.patientId ? { patient: `Patient/${p.patientId}` } : {}),
      ...(p.practitionerId ? { practitioner: `Practitioner/${p.practitionerId}` } : {}),
      ...(p.wechat ? { wechat: p.wechat } : {}),
    };
  }

  async transaction<T>(fn: (repo: Repository) => Promise<T>): Promise<T> {
    if (this.scope) return fn(this);
    const failed: AuditEvent[] = [];
    let result: T;
    try {
      result = await this.store.transactionWith(async (repo, trx) => {
        const scope: TxScope = { trx, pending: [], failed };
        const done = await fn(new AuthorizedRepository(repo, this.o, scope));
        await this.o.audit.append([...scope.pending, ...scope.failed], trx);
        return done;
      });
    } catch (err) {
      await this.o.audit.append(failed);
      throw err;
    }
    await this.o.audit.seal();
    return result;
  }

  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T> {
    if (resourceType === 'AuditEvent') return this.readAudit(id) as Promise<T>;
    return this.runRead({ subtype: 'read', action: 'R', entity: `${resourceType}/${id}` }, async (repo, trx) => {
      this.o.access.requireRead(resourceType);
      return this.visible(trx, await repo.read<T>(resourceType, id), `${resourceType}/${id}`);
    }, (r) => ({ patients: patientsOf(r) }));
  }

  vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<T> {
    const ref = `${resourceType}/${id}/_history/${versionId}`;
    return this.runRead({ subtype: 'vread', action: 'R', entity: `${resourceType}/${id}` }, async (repo, trx) => {
      this.o.access.requireRead(resourceType);
      return this.visible(trx, await repo.vread<T>(resourceType, id, versionId), ref);
    }, (r) => ({ patients: patientsOf(r) }));
  }

  search(request: SearchRequest, options: SearchOptions = {}): Promise<SearchResult> {
    const draft: AuditDraft = { subtype: 'search-type', action: 'E', entity: request.resourceType, query: formatSearchQuery(request) };
    return this.runRead(draft, async (repo, trx) => {
      this.o.access.requireRead(request.resourceType);
      if (request.resourceType === 'AuditEvent') return searchAuditLog(trx, request);
      await this.o.access.checkPatientSearch(trx, request);
      const result = await repo.search(request, { ...options, restriction: this.o.access.restriction });
      const shown = (r: Resource): Resource => this.present(r, true);
      return { ...result, resources: result.resources.map(shown), included: result.included.map(shown) };
    }, (result) => ({ patients: [...new Set(result.resources.flatMap(patientsOf))].slice(0, 20) }));
  }

  history(resourceType?: ResourceType, id?: string, options?: HistoryOptions): Promise<HistoryResult> {
    const subtype = id ? 'history-instance' : resourceType ? 'history-type' : 'history-system';
    const entity = [resourceType, id].filter(Boolean).join('/') || undefined;
    return this.runRead({ subtype, action: 'R', entity }, async (repo, trx) => {
      const access = this.o.access;
      if (!resourceType) {
        if (!access.policy.canReadSystemHistory(access.principal)) throw forbidden('The history of the whole server is for administrators');
      } else {
        access.requireRead(resourceType);
        if (resourceType === 'AuditEvent') throw forbidden('The audit trail has no history: it is never changed');
        // A type's history spans every patient; the restriction lives in the search SQL, so such callers search instead.
        if (!id && access.compartmentBound) throw forbidden(`Your role (${access.principal.role}) reads ${resourceType} by search, not by type history`);
      }
      const result = await repo.history(resourceType, id, options);
      const entries = [];
      for (const e of result.entries) {
        if (e.resource && !(await access.canSee(trx, e.resource))) continue;
        entries.push(e.resource ? { ...e, resource: this.present(e.resource, false) } : e);
      }
      // No version of this resource was ever visible to the caller: as if it did not exist.
      if (id && result.entries.some((e) => e.resource) && !entries.some((e) => e.resource)) throw resourceNotFound(`${resourceType}/${id}`);
      return { ...result, entries };
    });
  }

  create<T extends Resource>(resource: T, options?: CreateOptions): Promise<WriteResult<T>> {
    if (!this.scope && options?.ifNoneExist === undefined) return this.createAlone(resource);
    return this.run({ subtype: 'create', action: 'C', entity: resource.resourceType }, async (repo, trx) => {
      await this.o.access.checkWrite(trx, resource);
      const result = await repo.create(resource, options);
      // If-None-Exist matched an existing resource: it is returned only to someone who may see it.
      if (!result.created && !(await this.o.access.canSee(trx, result.resource))) throw forbidden('The If-None-Exist condition matched a resource you may not see');
      return { ...result, resource: this.present(result.resource, false) };
    }, (r) => ({ entity: `${r.resource.resourceType}/${r.resource.id}`, patients: patientsOf(r.resource) }));
  }

  /**
   * A plain create outside a Bundle: the access check reads nothing that the write could change, so the create and
   * its audit record go to the store together (`createAlone`: one statement in autocommit on PostgreSQL).
   */
  private async createAlone<T extends Resource>(resource: T): Promise<WriteResult<T>> {
    const draft: AuditDraft = { subtype: 'create', action: 'C', entity: resource.resourceType };
    const result = await this.alone(draft, async (recordOf) => {
      await this.o.access.checkWrite(this.store.connection, resource);
      return this.store.createAlone(resource, (stored) => recordOf({ entity: `${stored.resourceType}/${stored.id}`, patients: patientsOf(stored) }));
    });
    return { ...result, resource: this.present(result.resource, false) };
  }

  async update<T extends Resource>(resource: T, options?: UpdateOptions): Promise<WriteResult<T>> {
    if (!this.scope && resource.id) {
      const draft: AuditDraft = { subtype: 'update', action: 'U', entity: `${resource.resourceType}/${resource.id}` };
      const stored = await this.replaceAlone(draft, resource.resourceType, resource.id, resource, options?.ifMatch, async (prev) => {
        await this.o.access.checkWrite(this.store.connection, resource);
        if (!(await this.o.access.canSee(this.store.connection, prev))) throw forbidden(`You may not change ${resource.resourceType}/${resource.id}`);
      });
      if (stored) return { resource: this.present(stored, false), created: false };
    }
    return this.run({ subtype: 'update', action: 'U', entity: `${resource.resourceType}/${resource.id}` }, async (repo, trx) => {
      await this.o.access.checkWrite(trx, resource);
      const prev = resource.id ? await repo.readForWrite(resource.resourceType, resource.id) : undefined;
      if (prev && !(await this.o.access.canSee(trx, prev))) throw forbidden(`You may not change ${resource.resourceType}/${resource.id}`);
      const result = await repo.update(resource, options);
      return { ...result, resource: this.present(result.resource, false) };
    }, (r) => ({ patients: patientsOf(r.resource) }), (stored) => ({ patients: patientsOf(stored) }));
  }

  conditionalUpdate<T extends Resource>(resource: T, search: string): Promise<WriteResult<T>> {
    return this.run({ subtype: 'update', action: 'U', entity: resource.resourceType, query: search }, async (repo, trx) => {
      await this.o.access.checkWrite(trx, resource);
      const result = await repo.conditionalUpdate(resource, search);
      const version = Number(result.resource.meta?.versionId ?? 1);
      if (!result.created && version > 1) {
        // The condition was matched without the caller's restriction: the version it replaced must have been theirs.
        const prev = await repo.vread(resource.resourceType, result.resource.id as string, String(version - 1)).catch(() => undefined);
        if (prev && !(await this.o.access.canSee(trx, prev))) throw forbidden('The condition matched a resource you may not change');
      }
      return { ...result, resource: this.present(result.resource, false) };
    }, (r) => ({ entity: `${r.resource.resourceType}/${r.resource.id}`, patients: patientsOf(r.resource) }));
  }

  patch<T extends Resource>(resourceType: T['resourceType'], id: string, patch: JsonPatchOperation[], options?: UpdateOptions): Promise<T> {
    return this.run({ subtype: 'patch', action: 'U', entity: `${resourceType}/${id}` }, async (repo, trx) => {
      this.o.access.requireWrite(resourceType);
      const prev = await this.visible(trx, await repo.read<T>(resourceType, id), `${resourceType}/${id}`);
      // The outcome is checked before the write, against the links as they were (see AccessControl.checkWrite).
      const preview = previewPatch(prev, patch);
      if (preview) await this.o.access.checkWrite(trx, preview);
      const patched = await repo.patch<T>(resourceType, id, patch, options);
      if (!preview) await this.o.access.checkWrite(trx, patched);
      return this.present(patched, false);
    }, (r) => ({ patients: patientsOf(r) }), (stored) => ({ patients: patientsOf(stored) }));
  }

  async delete(resourceType: ResourceType, id: string): Promise<void> {
    if (!this.scope) {
      const draft: AuditDraft = { subtype: 'delete', action: 'D', entity: `${resourceType}/${id}` };
      const stored = await this.replaceAlone(draft, resourceType, id, undefined, undefined, async (prev) => {
        this.o.access.requireWrite(resourceType);
        if (!(await this.o.access.canSee(this.store.connection, prev))) throw resourceNotFound(`${resourceType}/${id}`);
      });
      if (stored) return;
    }
    return this.run({ subtype: 'delete', action: 'D', entity: `${resourceType}/${id}` }, async (repo, trx) => {
      this.o.access.requireWrite(resourceType);
      const prev = await repo.readForWrite(resourceType, id);
      if (prev && !(await this.o.access.canSee(trx, prev))) throw resourceNotFound(`${resourceType}/${id}`);
      await repo.delete(resourceType, id);
    }, undefined, () => ({}));
  }

  /** Records an operation call; its reads and writes are checked and recorded one by one through this repository. */
  async recordOperation(name: string, entity: string | undefined, work: () => Promise<Resource>): Promise<Resource> {
    const draft: AuditDraft = { subtype: 'operation', action: 'E', entity: entity ?? `$${name}`, query: `$${name}` };
    try {
      const result = await work();
      await this.o.audit.append([this.event(draft, OK)], this.scope?.trx);
      return result;
    } catch (err) {
      if (this.scope) this.scope.failed.push(this.event(draft, failureOf(err)));
      else await this.o.audit.append([this.event(draft, failureOf(err))]);
      throw err;
    }
  }

  private async readAudit(id: string): Promise<AuditEvent> {
    return this.runRead({ subtype: 'read', action: 'R', entity: `AuditEvent/${id}` }, async (_repo, trx) => {
      this.o.access.requireRead('AuditEvent');
      const event = await this.o.audit.read(id, trx);
      if (!event) throw resourceNotFound(`AuditEvent/${id}`);
      return event;
    });
  }

  private async visible<T extends Resource>(trx: Knex | Knex.Transaction, resource: T, ref: string): Promise<T> {
    if (!(await this.o.access.canSee(trx, resource))) throw resourceNotFound(ref);
    return this.present(resource, false);
  }

  private present<T extends Resource>(resource: T, inList: boolean): T {
    return this.o.maskAlways || (inList && this.o.maskLists) ? maskPersonalFields(resource) : resource;
  }

  private event(draft: AuditDraft, outcome: AuditOutcome): AuditEvent {
    return auditEvent(this.o.actor, draft, outcome, this.o.correlationId);
  }

  /**
   * A read-only interaction: inside a caller's transaction like any other; alone, without a transaction of its own
   * (it writes nothing the record must commit with), its AuditEvent group-committed with other callers' (AuditLog
   * `append`) before the answer goes out.
   */
  private async runRead<T>(draft: AuditDraft, work: (repo: KnexRepository, db: Knex | Knex.Transaction) => Promise<T>, about?: (result: T) => Partial<AuditDraft>): Promise<T> {
    if (this.scope) return this.run(draft, work, about);
    let result: T;
    try {
      result = await work(this.store, this.store.connection);
    } catch (err) {
      await this.o.audit.append([this.event(draft, failureOf(err))]);
      throw err;
    }
    await this.o.audit.append([this.event({ ...draft, ...about?.(result) }, OK)]);
    return result;
  }

  /**
   * An update or delete outside a Bundle through the store's `replaceAlone` (one statement on PostgreSQL, its audit
   * record in it); undefined when the store says it needs a transaction, for the caller's `run` path. A refusal or
   * failure is recorded as `run` records it.
   */
  private replaceAlone<T extends Resource>(
    draft: AuditDraft, resourceType: T['resourceType'], id: string, next: T | undefined, ifMatch: string | undefined, guard: (prev: T) => Promise<void>,
  ): Promise<T | undefined> {
    return this.alone(draft, (recordOf) => this.store.replaceAlone(resourceType, id, next, ifMatch, guard, (stored) => recordOf(next ? { patients: patientsOf(stored) } : {})));
  }

  /**
   * A write the store makes in one go with its audit record (from `recordOf`): a failure is recorded as `run`
   * records it; a write that happened is sealed onto the chain before the caller answers, its record named to the
   * seal when the store learnt the row it got. Undefined: nothing was written.
   */
  private async alone<R>(draft: AuditDraft, write: (recordOf: (about: Partial<AuditDraft>) => IndexTableRows[]) => Promise<R>): Promise<R> {
    let record: IndexTableRows[] | undefined;
    let result: R;
    try {
      // The store may ask more than once (a lost race is tried again): the last record asked for is the one written.
      result = await write((about) => (record = this.recordOf(draft, about)));
    } catch (err) {
      await this.o.audit.append([this.event(draft, failureOf(err))]);
      throw err;
    }
    if (result !== undefined) await this.o.audit.seal(record);
    return result;
  }

  /** The successful interaction's audit record as rows for the store to write with its version. */
  private recordOf(draft: AuditDraft, about: Partial<AuditDraft>): IndexTableRows[] {
    return [this.o.audit.pendingRows([this.event({ ...draft, ...about }, OK)])];
  }

  /**
   * Runs one interaction in a transaction (the caller's, or its own) so that its AuditEvent commits with it; on
   * failure the event is recorded with the outcome once the transaction has rolled back. `aboutStored`: what `about`
   * says, told from the version the work writes, for interactions that write exactly one (update, patch, delete), so
   * that their audit record can be written in that version's statement.
   */
  private async run<T>(
    draft: AuditDraft, work: (repo: KnexRepository, trx: Knex.Transaction) => Promise<T>, about?: (result: T) => Partial<AuditDraft>,
    aboutStored?: (stored: Resource) => Partial<AuditDraft>,
  ): Promise<T> {
    if (this.scope) {
      const scope = this.scope;
      try {
        const result = await work(this.store, scope.trx);
        scope.pending.push(this.event({ ...draft, ...about?.(result) }, OK));
        return result;
      } catch (err) {
        scope.failed.push(this.event(draft, failureOf(err)));
        throw err;
      }
    }
    let result: T;
    try {
      result = await this.store.transactionWith(async (repo, trx) => {
        // The record rides with the version the work writes (one statement on PostgreSQL) when `aboutStored` can
        // describe it from that version; work that writes none (a delete of nothing) leaves it to the append below.
        let carried = false;
        if (aboutStored) {
          offerCompanions(trx, (stored) => {
            carried = true;
            return this.recordOf(draft, aboutStored(stored));
          });
        }
        const done = await work(repo, trx);
        takeCompanions(trx);
        if (!carried) await this.o.audit.append([this.event({ ...draft, ...about?.(done) }, OK)], trx);
        return done;
      });
    } catch (err) {
      await this.o.audit.append([this.event(draft, failureOf(err))]);
      throw err;
    }
    await this.o.audit.seal();
    return result;
  }
}

/** The resource a patch would produce, or undefined when the patch does not apply (the store then refuses it). */
function previewPatch<T extends Resource>(resource: T, patch: JsonPatchOperation[]): T | undefined {
  try {
    return applyPatch(deepClone(resource), patch as never, true, false).newDocument as T;
  } catch {
    return undefined;
  }
}
