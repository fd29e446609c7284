import { Knex } from 'knex';
import { MigrationStep, runMigrations } from '../../engine/migrations';
import { storeDialect } from './store-dialect';

export const FHIR_STORE_COMPONENT = 'fhir-store';

/** Append-only: a released step is never edited, a change is a new step. */
const steps: MigrationStep[] = [
  async (db: Knex) => {
    const d = storeDialect(db);
    const versionColumns = (t: Knex.CreateTableBuilder): void => {
      d.caseSensitive(t.string('resource_type', 64).notNullable());
      d.caseSensitive(t.string('id', 64).notNullable());
      t.integer('version_id').notNullable();
      // ISO instant with ms and Z: sorts as text the way it sorts as time.
      t.string('last_updated', 32).notNullable();
      t.boolean('deleted').notNullable();
      d.contentColumn(t, 'content').notNullable();
    };
    await db.schema.createTable('fhir_resources', (t) => {
      versionColumns(t);
      t.primary(['resource_type', 'id']);
      t.index(['resource_type', 'last_updated'], 'fhir_resources_type_updated');
    });
    await db.schema.createTable('fhir_history', (t) => {
      versionColumns(t);
      // The interaction that wrote the version (POST, PUT, PATCH, DELETE), for history Bundles' entry.request.
      t.string('method', 8).notNullable();
      t.primary(['resource_type', 'id', 'version_id']);
      t.index(['last_updated'], 'fhir_history_updated');
      t.index(['resource_type', 'last_updated'], 'fhir_history_type_updated');
    });
    await db.schema.createTable('fhir_outbox', (t) => {
      t.bigIncrements('seq');
      t.string('resource_type', 64).notNullable();
      t.string('resource_id', 64).notNullable();
      t.integer('version_id').notNullable();
      t.string('action', 8).notNullable();
      t.string('correlation_id', 128).nullable();
      // Epoch milliseconds.
      t.bigInteger('created_at').notNullable();
      t.bigInteger('published_at').nullable();
      t.index(['published_at', 'seq'], 'fhir_outbox_published_seq');
    });
  },
  async (db: Knex) => {
    // Rows live only inside a transaction (inserted, then deleted before commit): a second writer inserting the same
    // key waits on the first one's uncommitted row, which serialises conditional creates and updates of one condition.
    await db.schema.createTable('fhir_write_locks', (t) => {
      t.string('lock_key', 64).primary();
    });
  },
];

export async function migrateFhirStore(db: Knex): Promise<void> {
  await runMigrations(db, FHIR_STORE_COMPONENT, steps);
}
