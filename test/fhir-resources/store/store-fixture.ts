import { Knex } from 'knex';
import type { SearchRequest } from '@medplum/core';
import type { Identifier, Patient, Resource } from '@medplum/fhirtypes';
import { KnexRepository, KnexRepositoryOptions } from '../../../fhir-resources/store/knex-repository';
import type { SearchResult } from '../../../fhir-resources/store/repository';
import type { SearchIndex } from '../../../fhir-resources/store/search-index-port';
import { migrateFhirStore } from '../../../fhir-resources/store/store-migrations';
import { createTestDatabase, TestDatabase } from '../../support/databases';

/**
 * A stand-in for fhir-resources/search/search-index.ts, which another part builds at the same time: it records the
 * store's index calls and answers `identifier=system|value` by scanning fhir_resources in the caller's transaction,
 * which is all the conditional interactions need. TODO: switch to the real SearchIndex once it lands.
 */
export class FakeSearchIndex implements SearchIndex {
  readonly calls: string[] = [];

  async migrate(): Promise<void> {}

  async index(_trx: Knex.Transaction, resource: Resource): Promise<void> {
    this.calls.push(`index ${resource.resourceType}/${resource.id}/${resource.meta?.versionId}`);
  }

  async unindex(_trx: Knex.Transaction, resourceType: string, id: string): Promise<void> {
    this.calls.push(`unindex ${resourceType}/${id}`);
  }

  async search(db: Knex | Knex.Transaction, request: SearchRequest): Promise<SearchResult> {
    const rows = await db('fhir_resources').select('content', 'deleted').where({ resource_type: request.resourceType });
    const live = rows.filter((r) => !(r.deleted === true || Number(r.deleted) === 1)).map((r) => JSON.parse(r.content) as Resource);
    const matches = live.filter((r) => (request.filters ?? []).every((f) => {
      if (f.code !== 'identifier') throw new Error(`fake search index: unsupported parameter ${f.code}`);
      const [system, value] = f.value.split('|');
      return ((r as Patient).identifier ?? []).some((i: Identifier) => i.system === system && i.value === value);
    }));
    return { resources: matches.slice(0, request.count ?? 20), included: [] };
  }
}

export interface StoreFixture {
  database: TestDatabase;
  db: Knex;
  searchIndex: FakeSearchIndex;
  repository(options?: KnexRepositoryOptions): KnexRepository;
  cleanup(): Promise<void>;
}

export async function openStore(kind: TestDatabase['name']): Promise<StoreFixture> {
  const database = await createTestDatabase(kind);
  const db = database.open();
  await migrateFhirStore(db);
  const searchIndex = new FakeSearchIndex();
  return {
    database,
    db,
    searchIndex,
    repository: (options) => new KnexRepository(db, searchIndex, options),
    cleanup: async () => {
      await db.destroy();
      await database.drop();
    },
  };
}

export async function countRows(db: Knex, table: string): Promise<number> {
  const row = await db(table).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

export function patient(family: string, extra: Partial<Patient> = {}): Patient {
  return { resourceType: 'Patient', name: [{ family }], ...extra };
}

/** The HTTP status an OperationOutcomeError thrown by `work` maps to. */
export async function statusOf(work: Promise<unknown>): Promise<number | 'ok'> {
  const { getStatus, OperationOutcomeError } = await import('@medplum/core');
  try {
    await work;
    return 'ok';
  } catch (err) {
    if (err instanceof OperationOutcomeError) return getStatus(err.outcome);
    throw err;
  }
}
