import type { Knex } from 'knex';
import { z } from 'zod';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { isUniqueViolation } from '../../engine/db';

export const tableWriterSchema = z.object({
  table: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a table name: lower-case letters, digits and _'),
}).strict();

/**
 * Writes each message as one row keyed by message id. The key makes the write idempotent: a retry after a crash
 * between the insert and the engine recording it as sent finds the row and counts as delivered.
 */
export function tableWriter(db: Knex, options: z.infer<typeof tableWriterSchema>): DestinationConnector {
  const { table } = tableWriterSchema.parse(options);
  return {
    type: 'table',
    async start() {
      if (await db.schema.hasTable(table)) return;
      try {
        await db.schema.createTable(table, (t) => {
          t.string('message_id', 64).primary();
          t.string('channel_id', 64).notNullable();
          t.string('correlation_id', 128).notNullable();
          t.text('content', 'longtext');
          t.bigInteger('written_at').notNullable();
        });
      } catch (err) {
        if (!(await db.schema.hasTable(table))) throw err;
      }
    },
    async send(m: OutboundMessage) {
      try {
        await db(table).insert({ message_id: m.messageId, channel_id: m.channelId, correlation_id: m.correlationId, content: m.content, written_at: Date.now() });
        return { response: `row ${m.messageId} written to ${table}` };
      } catch (err) {
        if (isUniqueViolation(err)) return { response: `row ${m.messageId} already in ${table}` };
        throw err;
      }
    },
  };
}
