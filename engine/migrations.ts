import { Knex } from 'knex';

/**
 * Versioned schema steps per component (message store, bus, scheduler, FHIR store …). Each component owns an
 * ordered list of steps; the applied count is kept in one table so that start-up runs only what is new.
 * Steps run one at a time under a lock row so that two nodes starting together do not both apply them.
 */
export type MigrationStep = (db: Knex) => Promise<void>;

const TABLE = 'lingshu_schema_versions';

export async function runMigrations(db: Knex, component: string, steps: MigrationStep[]): Promise<void> {
  if (!(await db.schema.hasTable(TABLE))) {
    try {
      await db.schema.createTable(TABLE, (t) => {
        t.string('component', 64).primary();
        t.integer('version').notNullable();
      });
    } catch (err) {
      if (!(await db.schema.hasTable(TABLE))) throw err;
    }
  }
  try {
    await db(TABLE).insert({ component, version: 0 });
  } catch {
    // another start-up (or an earlier one) created the row already
  }
  for (;;) {
    const row = await db(TABLE).where({ component }).first();
    const version = Number(row.version);
    if (version < 0) {
      // another node is applying step -version right now
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    if (version >= steps.length) return;
    // Claim the step with a compare-and-set on the version; the loser re-reads and waits for the winner's result.
    const claimed = await db(TABLE).where({ component, version }).update({ version: -(version + 1) });
    if (claimed !== 1) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      await steps[version](db);
      await db(TABLE).where({ component }).update({ version: version + 1 });
    } catch (err) {
      await db(TABLE).where({ component }).update({ version });
      throw new Error(`migration ${component} #${version + 1} failed: ${(err as Error).message}`);
    }
  }
}
