import { Knex } from 'knex';

export const TABLE = 'lingshu_bus_messages';
export const BINDINGS = 'lingshu_bus_bindings';

/** The in-process bus's schema steps (engine/migrations.ts), append-only. */
export const migrations = [
  async (db: Knex) => {
    await db.schema.createTable(TABLE, (t) => {
      // Assigned by the bus (see nextSeq), not by the database: publish order without a round trip for ids.
      t.bigInteger('seq').primary();
      t.string('queue', 255).notNullable();
      t.string('msg_id', 255).notNullable();
      t.string('msg_key', 255).nullable();
      t.text('body', 'longtext').notNullable();
      t.text('headers').nullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.bigInteger('available_at').notNullable();
      t.integer('dead').notNullable().defaultTo(0);
      t.text('last_error').nullable();
      t.index(['queue', 'dead', 'seq']);
    });
  },
  async (db: Knex) => {
    await db.schema.createTable(BINDINGS, (t) => {
      t.string('exchange', 255).notNullable();
      t.string('queue', 255).notNullable();
      t.string('pattern', 255).notNullable();
      t.primary(['exchange', 'queue', 'pattern']);
    });
  },
];
