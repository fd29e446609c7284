import { Knex } from 'knex';
import { MigrationStep, runMigrations } from '../../engine/migrations';
import { storeDialect } from '../store/store-dialect';
import { COMBO_DEFINITIONS, COMBO_SORT_PARAM, COMBO_VALUE_WIDTH, ComboDefinition } from './combo-index';

export const FHIR_SEARCH_COMPONENT = 'fhir-search';

/** The index tables, one per search parameter type; every row names its resource and the parameter code. */
export const INDEX_TABLES = {
  token: 'fhir_idx_token',
  string: 'fhir_idx_string',
  reference: 'fhir_idx_reference',
  date: 'fhir_idx_date',
  number: 'fhir_idx_number',
  quantity: 'fhir_idx_quantity',
  uri: 'fhir_idx_uri',
} as const;

export type IndexKind = keyof typeof INDEX_TABLES;

/** Pairs of a reference target and a code of one resource (combo-index.ts); not a search parameter type of its own. */
export const COMBO_TABLE = 'fhir_idx_combo';

/** Append-only: a released step is never edited, a change is a new step. */
const steps: MigrationStep[] = [
  async (db: Knex) => {
    const d = storeDialect(db);
    // resource_type / resource_id collate like fhir_resources' columns so that MySQL compares them without a
    // collation mix and ids stay case-sensitive.
    const owner = (t: Knex.CreateTableBuilder, table: string): void => {
      d.caseSensitive(t.string('resource_type', 64).notNullable());
      d.caseSensitive(t.string('resource_id', 64).notNullable());
      t.string('param', 64).notNullable();
      t.index(['resource_type', 'resource_id', 'param'], `${table}_owner`);
    };
    await db.schema.createTable(INDEX_TABLES.token, (t) => {
      owner(t, 'fhir_idx_token');
      d.caseSensitive(t.string('system', 255).nullable());
      d.caseSensitive(t.string('value', 255).nullable());
      // Display text of codes and identifiers (`:text`), normalised, with its pinyin keys.
      t.string('text', 255).nullable();
      t.string('text_initials', 255).nullable();
      t.string('text_pinyin', 255).nullable();
      t.index(['resource_type', 'param', 'value'], 'fhir_idx_token_value');
    });
    await db.schema.createTable(INDEX_TABLES.string, (t) => {
      owner(t, 'fhir_idx_string');
      d.caseSensitive(t.string('value_exact', 255).notNullable());
      t.string('value', 255).notNullable();
      t.string('initials', 255).nullable();
      t.string('pinyin', 255).nullable();
      t.index(['resource_type', 'param', 'value'], 'fhir_idx_string_value');
      t.index(['resource_type', 'param', 'initials'], 'fhir_idx_string_initials');
    });
    await db.schema.createTable(INDEX_TABLES.reference, (t) => {
      owner(t, 'fhir_idx_reference');
      d.caseSensitive(t.string('target_type', 64).nullable());
      d.caseSensitive(t.string('target_id', 64).nullable());
      d.caseSensitive(t.string('reference', 500).notNullable());
      t.index(['resource_type', 'param', 'target_id'], 'fhir_idx_reference_target');
      t.index(['target_type', 'target_id', 'param'], 'fhir_idx_reference_reverse');
    });
    await db.schema.createTable(INDEX_TABLES.date, (t) => {
      owner(t, 'fhir_idx_date');
      // ISO instants with ms and Z, so that text order is time order; open ends are the extreme instants.
      t.string('low', 24).notNullable();
      t.string('high', 24).notNullable();
      t.index(['resource_type', 'param', 'low'], 'fhir_idx_date_low');
      t.index(['resource_type', 'param', 'high'], 'fhir_idx_date_high');
    });
    await db.schema.createTable(INDEX_TABLES.number, (t) => {
      owner(t, 'fhir_idx_number');
      t.double('low').notNullable();
      t.double('high').notNullable();
      t.index(['resource_type', 'param', 'low'], 'fhir_idx_number_low');
    });
    await db.schema.createTable(INDEX_TABLES.quantity, (t) => {
      owner(t, 'fhir_idx_quantity');
      t.double('value').notNullable();
      d.caseSensitive(t.string('system', 255).nullable());
      d.caseSensitive(t.string('code', 64).nullable());
      d.caseSensitive(t.string('unit', 64).nullable());
      t.index(['resource_type', 'param', 'value'], 'fhir_idx_quantity_value');
    });
    await db.schema.createTable(INDEX_TABLES.uri, (t) => {
      owner(t, 'fhir_idx_uri');
      d.caseSensitive(t.string('value', 500).notNullable());
      t.index(['resource_type', 'param', 'value'], 'fhir_idx_uri_value');
    });
  },
  async (db: Knex) => {
    // Covering indexes for the per-candidate probes of a search (filter-conditions `exists`, sort-keys): a chart
    // search's code probe and date sort key, and its driving subject lookup, are answered from the index alone
    // instead of one table row per candidate. Same names: SQLite's probes name the owner index (`indexed by`).
    await replaceIndex(db, INDEX_TABLES.token, 'fhir_idx_token_owner', ['resource_type', 'resource_id', 'param', 'value', 'system']);
    await replaceIndex(db, INDEX_TABLES.date, 'fhir_idx_date_owner', ['resource_type', 'resource_id', 'param', 'low', 'high']);
    await replaceIndex(db, INDEX_TABLES.reference, 'fhir_idx_reference_reverse', ['target_type', 'target_id', 'param', 'resource_type', 'resource_id']);
  },
  async (db: Knex) => {
    const d = storeDialect(db);
    await db.schema.createTable(COMBO_TABLE, (t) => {
      d.caseSensitive(t.string('resource_type', 64).notNullable());
      d.caseSensitive(t.string('resource_id', 64).notNullable());
      t.string('param', 64).notNullable();
      // A target (type 64, id 64) and a code (255, the token index's width) with their separators always fit.
      d.caseSensitive(t.string('value', 400).notNullable());
      t.index(['resource_type', 'resource_id', 'param'], `${COMBO_TABLE}_owner`);
      t.index(['resource_type', 'param', 'value', 'resource_id'], `${COMBO_TABLE}_value`);
    });
    // The combos declared with this step, not whatever the list holds later: a combo added since has a step of its
    // own, and a new database would otherwise fill it twice.
    for (const [resourceType, combos] of Object.entries(COMBO_DEFINITIONS)) {
      for (const combo of combos.filter((c) => ['subject+code', 'patient+code'].includes(c.name))) await backfillCombo(db, resourceType, combo);
    }
  },
  async (db: Knex) => {
    // Combos with systems (a chart search that names the code's system), for the resources stored before them.
    for (const [resourceType, combos] of Object.entries(COMBO_DEFINITIONS)) {
      for (const combo of combos.filter((c) => ['subject+system|code', 'patient+system|code'].includes(c.name))) await backfillCombo(db, resourceType, combo);
    }
  },
  async (db: Knex) => {
    // Union parameters (search-parameters.ts storedParameters) are searched over their members' rows and written no
    // more; the rows written before would be dead weight. The unions as derived when this step was written.
    await db(INDEX_TABLES.token).where('resource_type', 'Observation').whereIn('param', ['combo-code', 'combo-data-absent-reason', 'combo-value-concept']).delete();
    await db(INDEX_TABLES.quantity).where('resource_type', 'Observation').where('param', 'combo-value-quantity').delete();
  },
  async (db: Knex) => {
    // A combo row carries its resource's sort date (combo-index.ts COMBO_SORT_PARAM), in the combo's value index, so
    // a chart search sorted by date reads it there instead of probing the date index once per candidate.
    // Run again only by a test that replays an earlier step (union-parameters.test.ts): the columns are then there.
    if (!(await db.schema.hasColumn(COMBO_TABLE, 'date_low'))) {
      await db.schema.alterTable(COMBO_TABLE, (t) => {
        t.string('date_low', 24).nullable();
        t.string('date_high', 24).nullable();
      });
    }
    await backfillComboDates(db);
    await replaceIndex(db, COMBO_TABLE, `${COMBO_TABLE}_value`, ['resource_type', 'param', 'value', 'resource_id', 'date_low', 'date_high']);
  },
  async (db: Knex) => {
    // A pair in a combo and in the combo that narrows it (combo-index.ts `narrows`) keeps only the narrower's row;
    // searches of the wider combo read both names. The combos as declared when this step was written.
    for (const resourceType of ['Observation', 'DiagnosticReport']) {
      for (const [wide, narrow] of [['subject+code', 'patient+code'], ['subject+system|code', 'patient+system|code']]) {
        await dropNarrowedComboRows(db, resourceType, wide, narrow);
      }
    }
  },
  async (db: Knex) => {
    // One reference index instead of two. Every reference search names the referring type and parameter: a forward
    // search its target, a reverse one (_revinclude, _has, compartments, access control) its targets' ids. So
    // (resource_type, param, target_id, target_type, resource_id) answers both from the index alone, and each
    // reference row, a fifth of all index rows, costs two B-tree inserts instead of three.
    await replaceIndex(db, INDEX_TABLES.reference, 'fhir_idx_reference_target', ['resource_type', 'param', 'target_id', 'target_type', 'resource_id']);
    await dropIndexIfExists(db, INDEX_TABLES.reference, 'fhir_idx_reference_reverse');
  },
];

/** Deletes the `wide` combo rows of `resourceType` that a `narrow` row of the same resource and value stands for. */
export async function dropNarrowedComboRows(db: Knex, resourceType: string, wide: string, narrow: string): Promise<void> {
  const d = storeDialect(db);
  if (d.name === 'mysql' || d.name === 'mssql') {
    // MySQL refuses a DELETE whose subquery reads the same table; both take a join instead.
    await db.raw(`DELETE w FROM ${COMBO_TABLE} w JOIN ${COMBO_TABLE} n
      ON n.resource_type = w.resource_type AND n.resource_id = w.resource_id AND n.param = ? AND n.value = w.value
      WHERE w.resource_type = ? AND w.param = ?`, [narrow, resourceType, wide]);
    return;
  }
  await db.raw(`DELETE FROM ${COMBO_TABLE} WHERE resource_type = ? AND param = ? AND EXISTS (SELECT 1 FROM ${COMBO_TABLE} n
    WHERE n.resource_type = ${COMBO_TABLE}.resource_type AND n.resource_id = ${COMBO_TABLE}.resource_id AND n.param = ? AND n.value = ${COMBO_TABLE}.value)`,
  [resourceType, wide, narrow]);
}

/** Drops an index that a replayed step (union-parameters.test.ts) may already have dropped. */
async function dropIndexIfExists(db: Knex, table: string, name: string): Promise<void> {
  const d = storeDialect(db);
  if (d.name === 'mysql') {
    const [rows] = await db.raw('SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1', [table, name]);
    if ((rows as unknown[]).length > 0) await db.raw('ALTER TABLE ?? DROP INDEX ??', [table, name]);
    return;
  }
  await db.raw(d.name === 'mssql' ? 'DROP INDEX IF EXISTS ?? ON ??' : 'DROP INDEX IF EXISTS ??', d.name === 'mssql' ? [name, table] : [name]);
}

/** An index rebuilt on other columns under the same name. */
async function replaceIndex(db: Knex, table: string, name: string, columns: string[]): Promise<void> {
  await db.schema.alterTable(table, (t) => t.dropIndex([], name));
  await db.schema.alterTable(table, (t) => t.index(columns, name));
}

/**
 * The sort dates of stored combo rows, as comboRows writes them for new versions: the lowest low and the highest high
 * of the resource's `date` rows. GROUP BY keeps planners on the owner index (as sort-keys.ts says).
 */
export async function backfillComboDates(db: Knex): Promise<void> {
  const of = (fn: 'min' | 'max', column: 'low' | 'high'): string => `(SELECT ${fn}(d.${column}) FROM ${INDEX_TABLES.date} d
    WHERE d.resource_type = ${COMBO_TABLE}.resource_type AND d.resource_id = ${COMBO_TABLE}.resource_id AND d.param = ?
    GROUP BY d.resource_id)`;
  for (const resourceType of Object.keys(COMBO_DEFINITIONS)) {
    await db.raw(`UPDATE ${COMBO_TABLE} SET date_low = ${of('min', 'low')}, date_high = ${of('max', 'high')} WHERE resource_type = ?`,
      [COMBO_SORT_PARAM, COMBO_SORT_PARAM, resourceType]);
  }
}

/**
 * The combo rows of what is already stored, from its reference and token rows, as combo-index.ts makes them for new
 * versions. A combo declared later needs a migration step that calls this for it.
 */
export async function backfillCombo(db: Knex, resourceType: string, combo: ComboDefinition): Promise<void> {
  // Rows inserted here have no sort dates: a step that runs after the one adding them calls backfillComboDates too.
  const d = storeDialect(db);
  const concat = (...parts: string[]): string => (d.name === 'mysql' || d.name === 'mssql' ? `CONCAT(${parts.join(', ')})` : parts.join(' || '));
  const length = d.name === 'mysql' ? 'CHAR_LENGTH' : d.name === 'mssql' ? 'LEN' : 'LENGTH';
  // As comboRows writes them: with systems, only codes whose system has no bar, and no value wider than the column.
  const code = combo.withSystem ? ['t.system', `'|'`, 't.value'] : ['t.value'];
  const value = concat('r.target_type', `'/'`, 'r.target_id', `' '`, ...code);
  const system = combo.withSystem ? ` AND t.system IS NOT NULL AND t.system <> '' AND t.system NOT LIKE '%|%' AND ${length}(${value}) <= ${COMBO_VALUE_WIDTH}` : '';
  await db.raw(`INSERT INTO ${COMBO_TABLE} (resource_type, resource_id, param, value)
    SELECT DISTINCT r.resource_type, r.resource_id, ?, ${value}
    FROM ${INDEX_TABLES.reference} r JOIN ${INDEX_TABLES.token} t
      ON t.resource_type = r.resource_type AND t.resource_id = r.resource_id AND t.param = ?
    WHERE r.resource_type = ? AND r.param = ? AND r.target_type IS NOT NULL AND r.target_id IS NOT NULL AND t.value IS NOT NULL${system}`,
  [combo.name, combo.token, resourceType, combo.reference]);
}

export async function migrateFhirSearch(db: Knex): Promise<void> {
  await runMigrations(db, FHIR_SEARCH_COMPONENT, steps);
}
