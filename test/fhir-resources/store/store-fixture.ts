import { Knex } from 'knex';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { KnexRepository, KnexRepositoryOptions } from '../../../fhir-resources/store/knex-repository';
import type { SearchResult } from '../../../fhir-resources/store/repository';
import type { SearchIndex } from '../../../fhir-resources/store/search-index-port';
import { migrateFhirStore } from '../../../fhir-resources/store/store-migrations';
import { createTestDatabase, TestDatabase } from '../../support/databases';

/**
 * Records the store's index calls; CRUD, history and outbox tests need no search. Conditional interactions run on
 * the real KnexSearchIndex (`openStore(kind, 'real')`).
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

  async search(): Promise<SearchResult> {
    throw new Error('FakeSearchIndex does not search: open the store with the real index');
  }
}

export interface StoreFixture {
  database: TestDatabase;
  db: Knex;
  searchIndex: SearchIndex;
  /** The recording stand-in, when the fixture runs on it. */
  fakeIndex?: FakeSearchIndex;
  repository(options?: KnexRepositoryOptions): KnexRepository;
  cleanup(): Promise<void>;
}

/** `search: 'real'` runs on fhir-resources/search's KnexSearchIndex; the default is the recording stand-in. */
export async function openStore(kind: TestDatabase['name'], search: 'fake' | 'real' = 'fake'): Promise<StoreFixture> {
  const database = await createTestDatabase(kind);
  const db = database.open();
  await migrateFhirStore(db);
  const fakeIndex = search === 'fake' ? new FakeSearchIndex() : undefined;
  const searchIndex: SearchIndex = fakeIndex ?? new KnexSearchIndex();
  await searchIndex.migrate(db);
  return {
    database,
    db,
    searchIndex,
    fakeIndex,
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
