import type { Bundle, OperationOutcome, Reference, Resource, ResourceType } from '@medplum/fhirtypes';
import type { SearchRequest } from '@medplum/core';
import type { Knex } from 'knex';

/**
 * The one object every FHIR interaction goes through: REST, operations, channels and tests. Failures are thrown as
 * `OperationOutcomeError` (@medplum/core) carrying the outcome whose HTTP status `getStatus()` gives: notFound → 404,
 * gone → 410, preconditionFailed → 412, badRequest → 400, multipleMatches → 412, conflict → 409.
 */

/** Who asks and why; written into events (and later AuditEvent). */
export interface RequestContext {
  correlationId?: string;
  /** The authenticated user or system, e.g. `Practitioner/123` or `Device/channel-his-orders`. */
  author?: Reference;
}

export interface CreateOptions {
  /** Conditional create: a search query string (`identifier=a|b`); when it matches one resource, that one is returned unchanged. */
  ifNoneExist?: string;
}

export interface UpdateOptions {
  /** Optimistic lock: the versionId the client last saw (from the ETag `W/"n"`); mismatch → 412. */
  ifMatch?: string;
}

export interface WriteResult<T extends Resource = Resource> {
  resource: T;
  /** True when the interaction created the resource (201), false when it updated or matched an existing one (200). */
  created: boolean;
}

/** RFC 6902 JSON Patch operation. */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export interface HistoryOptions {
  /** Only versions written at or after this instant. */
  since?: string;
  count?: number;
  /** Opaque cursor from the previous page. */
  cursor?: string;
}

export interface HistoryEntry {
  resourceType: ResourceType;
  id: string;
  versionId: string;
  lastUpdated: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absent for a delete version. */
  resource?: Resource;
}

export interface HistoryResult {
  entries: HistoryEntry[];
  /** Cursor for the next page, absent on the last page. */
  next?: string;
}

export interface SearchResult {
  /** Matches, in the requested order, with `_elements` / `_summary` applied. */
  resources: Resource[];
  /** `_include` / `_revinclude` results (search mode `include`). */
  included: Resource[];
  /** Present when `_total=accurate` or `_summary=count` asked for it. */
  total?: number;
  /** Cursor for the next page (`_cursor=`), absent on the last page. */
  next?: string;
  /** Warnings, e.g. unknown search parameters ignored under lenient handling. */
  outcome?: OperationOutcome;
}

/**
 * Which stored rows a caller may see: conditions added to a query over `fhir_resources` aliased `alias`, whose rows
 * are of `resourceType`. The search module adds it to every query it runs for the caller (the matches, the total,
 * `_include` / `_revinclude` targets and chained targets), so what it excludes never leaves the database.
 */
export type RowRestriction = ((db: Knex | Knex.Transaction, query: Knex.QueryBuilder, resourceType: string, alias: string) => void) & {
  /**
   * True where the restriction adds nothing to a query over this type's rows (a caller who sees every row of it), so
   * that the search may use SQL compiled before (search/page-templates.ts). Absent: assume it adds something.
   */
  addsNothingFor?(resourceType: string): boolean;
};

export interface SearchOptions {
  /** `Prefer: handling=strict`: unknown or unsupported parameters are a 400 instead of a warning. */
  strict?: boolean;
  /** Access control (fhir-resources/auth): rows outside it are not found. */
  restriction?: RowRestriction;
  /**
   * In a transaction: the matches the search can lock as it reads them (SELECT … FOR UPDATE) are locked, and each is
   * handed here with its version columns, for a write that follows to use instead of reading the row again.
   */
  lockMatches?: (row: LockedMatch) => void;
}

/** A current row a search locked (SearchOptions.lockMatches). */
export interface LockedMatch {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  content: string;
}

export interface Repository {
  create<T extends Resource>(resource: T, options?: CreateOptions): Promise<WriteResult<T>>;
  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T>;
  vread<T extends Resource>(resourceType: T['resourceType'], id: string, versionId: string): Promise<T>;
  /** Update, or create with the client's id when it does not exist yet. */
  update<T extends Resource>(resource: T, options?: UpdateOptions): Promise<WriteResult<T>>;
  /** Conditional update: `search` matches none → create, one → update it, several → 412. */
  conditionalUpdate<T extends Resource>(resource: T, search: string): Promise<WriteResult<T>>;
  patch<T extends Resource>(resourceType: T['resourceType'], id: string, patch: JsonPatchOperation[], options?: UpdateOptions): Promise<T>;
  /** Soft delete: a new version marked deleted; read then answers 410. Deleting a deleted or missing resource is a no-op. */
  delete(resourceType: ResourceType, id: string): Promise<void>;
  history(resourceType?: ResourceType, id?: string, options?: HistoryOptions): Promise<HistoryResult>;
  search(request: SearchRequest, options?: SearchOptions): Promise<SearchResult>;
  /**
   * Run `fn` in one database transaction: every write inside it (and its index rows and outbox events) commits
   * together or not at all. Nested calls join the outer transaction.
   */
  transaction<T>(fn: (repo: Repository) => Promise<T>): Promise<T>;
  /**
   * Inside a transaction: takes the locks of the conditional creates and updates (`Type?search`) it will run, in one
   * statement where the database allows, and reads what they match in one more, instead of a lock and a search per
   * interaction. Optional: without it each takes its own lock and runs its own search.
   */
  prepareConditions?(conditions: string[]): Promise<void>;
  /** The same repository acting for another caller (correlation id, author). */
  withContext(context: RequestContext): Repository;
}

/** A Bundle of type searchset/history as the REST layer builds it; kept here so operations can reuse it. */
export type ResultBundle = Bundle;
