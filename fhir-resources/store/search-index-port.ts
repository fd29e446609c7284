import type { Knex } from 'knex';
import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { SearchOptions, SearchResult } from './repository';

/**
 * What the store needs from the search module (fhir-resources/search/search-index.ts implements it). The store calls
 * `index` / `unindex` inside the write's transaction, so index rows commit or roll back with the resource.
 */
export interface SearchIndex {
  /** Creates the `fhir_idx_*` tables (component `fhir-search`). */
  migrate(db: Knex): Promise<void>;
  /** Replaces every index row of this resource; `fresh`: it never had any (first version), nothing to remove. */
  index(trx: Knex.Transaction, resource: Resource, fresh?: boolean): Promise<void>;
  /** Removes every index row of this resource (on delete). */
  unindex(trx: Knex.Transaction, resourceType: string, id: string): Promise<void>;
  search(db: Knex | Knex.Transaction, request: SearchRequest, options?: SearchOptions): Promise<SearchResult>;
  /**
   * `Type?query` as the search module reads it (a conditional interaction's condition); without it, @medplum/core's
   * parser, which refuses some values R4 allows (dates without seconds).
   */
  parse?(url: string): SearchRequest;
}
