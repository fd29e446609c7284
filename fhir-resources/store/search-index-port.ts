import type { Knex } from 'knex';
import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { SearchOptions, SearchResult } from './repository';

/** Rows of one index table for one resource, each row's values in `columns` order. */
export interface IndexTableRows {
  table: string;
  columns: readonly string[];
  values: Knex.Value[][];
  /**
   * PostgreSQL's type of each column (`text`, `float8`), where the table's owner knows them: the store then passes
   * each column as one array instead of the rows as JSON objects, which PostgreSQL read in 60% of the time and which
   * weigh half as much on the wire. Without it the rows go as JSON, read into the table's row type.
   */
  pgTypes?: readonly string[];
  /**
   * For a write's companion rows (its audit record): columns to hand back once written, which a writer that learns
   * them (PostgreSQL, a version written alone) puts in `returned`, one object per row in no set order.
   */
  returning?: readonly string[];
  returned?: Array<Record<string, unknown>>;
}

/**
 * What the store needs from the search module (fhir-resources/search/search-index.ts implements it). The store calls
 * `index` / `unindex` inside the write's transaction, so index rows commit or roll back with the resource.
 */
export interface SearchIndex {
  /** Creates the `fhir_idx_*` tables (component `fhir-search`). */
  migrate(db: Knex): Promise<void>;
  /** Replaces every index row of this resource; `fresh`: it never had any (first version), nothing to remove. */
  index(trx: Knex.Transaction, resource: Resource, fresh?: boolean): Promise<void>;
  /**
   * The index rows of a resource, for the store to write with the statements that write the version (one round trip
   * for the whole write instead of one per table); tables where the resource has no rows may be left out. With it
   * the store writes and removes index rows itself, in `indexTables`; without it the store calls `index`/`unindex`.
   */
  indexRows?(resource: Resource): IndexTableRows[];
  /** Every index table, where a replaced or deleted version's rows are removed from (with `indexRows`). */
  readonly indexTables?: readonly string[];
  /** Removes every index row of this resource (on delete). */
  unindex(trx: Knex.Transaction, resourceType: string, id: string): Promise<void>;
  search(db: Knex | Knex.Transaction, request: SearchRequest, options?: SearchOptions): Promise<SearchResult>;
  /**
   * Whether `resource` could match a request: false only when it certainly does not (true where unsure). Lets the
   * store keep matches it read ahead across writes that cannot change them; without it every write of the type does.
   * One matcher serves all the requests asked about one written resource.
   */
  matcherFor?(resource: Resource): (request: SearchRequest) => boolean;
  /** Several searches, in one round trip where it can: the results in the order of `requests`. */
  searchMany?(db: Knex | Knex.Transaction, requests: SearchRequest[], options?: SearchOptions): Promise<SearchResult[]>;
  /**
   * `Type?query` as the search module reads it (a conditional interaction's condition); without it, @medplum/core's
   * parser, which refuses some values R4 allows (dates without seconds).
   */
  parse?(url: string): SearchRequest;
}
