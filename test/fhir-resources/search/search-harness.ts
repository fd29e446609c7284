import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { SearchOptions, SearchResult } from '../../../fhir-resources/store/repository';
import { migrateFhirStore } from '../../../fhir-resources/store/store-migrations';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { parseFhirSearchUrl } from '../../../fhir-resources/search/search-request';
import { createTestDatabase, TestDatabase } from '../../support/databases';

/**
 * A database with the store's tables and the search index, where tests write resources the way the store does
 * (row in fhir_resources + index rows, one transaction) and search with FHIR query strings.
 */
export class SearchHarness {
  readonly index = new KnexSearchIndex();
  private constructor(readonly database: TestDatabase, readonly db: Knex) {}

  static async open(kind: TestDatabase['name']): Promise<SearchHarness> {
    const database = await createTestDatabase(kind);
    const db = database.open();
    await migrateFhirStore(db);
    const harness = new SearchHarness(database, db);
    await harness.index.migrate(db);
    return harness;
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.database.drop();
  }

  /** Writes (or replaces) resources; `lastUpdated` defaults to now. */
  async put(...resources: Resource[]): Promise<void> {
    const now = new Date().toISOString();
    await this.db.transaction(async (trx) => {
      const rows = resources.map((r) => {
        r.meta = { ...(r.meta ?? {}), versionId: '1', lastUpdated: r.meta?.lastUpdated ?? now };
        return { resource_type: r.resourceType, id: r.id, version_id: 1, last_updated: r.meta.lastUpdated, deleted: false, content: JSON.stringify(r) };
      });
      for (const r of resources) await trx('fhir_resources').where({ resource_type: r.resourceType, id: r.id }).delete();
      for (let i = 0; i < rows.length; i += 100) await trx('fhir_resources').insert(rows.slice(i, i + 100));
      await this.index.indexMany(trx, resources);
    });
  }

  /**
   * Refreshes planner statistics after a bulk load, as autovacuum would in production: without them PostgreSQL
   * guesses one row per table and may walk the (param, value) index for every sort subquery.
   */
  async analyze(): Promise<void> {
    if (this.database.name === 'postgres') await this.db.raw('ANALYZE');
    else if (this.database.name === 'sqlite') await this.db.raw('ANALYZE');
    else await this.db.raw('ANALYZE TABLE fhir_resources, fhir_idx_token, fhir_idx_date');
  }

  /** Marks a resource deleted and drops its index rows, as the store's delete does. */
  async remove(resourceType: string, id: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx('fhir_resources').where({ resource_type: resourceType, id }).update({ deleted: true });
      await this.index.unindex(trx, resourceType, id);
    });
  }

  /** `Patient?name=zs&_count=5` → the search result. */
  search(query: string, options?: SearchOptions): Promise<SearchResult> {
    return this.index.search(this.db, request(query), options);
  }

  /** Ids of the matches, in result order. */
  async ids(query: string | SearchRequest, options?: SearchOptions): Promise<string[]> {
    const result = typeof query === 'string' ? await this.search(query, options) : await this.index.search(this.db, query, options);
    return result.resources.map((r) => r.id as string);
  }
}

/** Read as the REST layer reads it (fhir-resources/search/search-request.ts). */
export function request(query: string): SearchRequest {
  return parseFhirSearchUrl(query);
}

export function sorted(ids: string[]): string[] {
  return [...ids].sort();
}
