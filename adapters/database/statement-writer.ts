import type { Knex } from 'knex';
import { z } from 'zod';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { isUniqueViolation } from '../../engine/db';
import { foreignDatabaseSchema, foreignDatabaseUrl, openForeignDatabase } from './foreign-database';

export const statementWriterSchema = foreignDatabaseSchema.extend({
  /**
   * SQL run once per message, e.g. `INSERT INTO his_inbox (msg_id, patient_id, body) VALUES (:messageId, :patientId,
   * :content)`. Bound: messageId, correlationId, channelId, content, and each top-level field of a JSON object
   * content (the transformer shapes the row; this writer only moves it).
   */
  statement: z.string().min(1),
  /** How long the statement may take (a row locked by the HIS, a database that stopped answering) before it is cancelled. */
  timeoutMs: z.number().int().min(1).default(30_000),
}).strict();

export type StatementWriterOptions = z.input<typeof statementWriterSchema>;

const NAMED = /(?<![:\w]):([A-Za-z_]\w*)(?!:)/g;

function bindingsOf(m: OutboundMessage): Record<string, unknown> {
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(m.content);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
  } catch {
    // not JSON: only the message fields are bound
  }
  const values: Record<string, unknown> = { ...fields, messageId: m.messageId, correlationId: m.correlationId, channelId: m.channelId, content: m.content };
  for (const [k, v] of Object.entries(values)) {
    if (v !== null && typeof v === 'object') values[k] = JSON.stringify(v);
  }
  return values;
}

/** Where the statement went, for the error text: host and database only, since the URL may carry a password. */
function whereOf(o: { url?: string; urlEnv?: string }): string {
  try {
    const u = new URL(foreignDatabaseUrl(o));
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the foreign database';
  }
}

/**
 * The failure in words an operator can act on. The driver's own text is kept; the SQL that knex puts in front of it
 * is not, since it carries the bound values (patient names, ID numbers) into the recorded error.
 */
function writeFailure(err: unknown, where: string, timeoutMs: number): Error {
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'KnexTimeoutError') return new Error(`${where}: no answer within ${timeoutMs} ms (${e.message?.includes('acquiring') ? 'no connection' : 'statement cancelled'})`);
  if (e.code === 'ECONNREFUSED') return new Error(`${where}: connection refused (ECONNREFUSED)`);
  const text = e.message ?? String(err);
  const cut = text.lastIndexOf(' - ');
  return new Error(`${where}: ${cut >= 0 ? text.slice(cut + 3) : text}${e.code ? ` (${e.code})` : ''}`);
}

/**
 * Writes to a foreign database (the HIS's interface tables) with one configured statement per message.
 * table-writer covers rows in Lingshu's own database; this is its counterpart for someone else's schema.
 * A unique-key violation counts as delivered: with the message id in a unique column the statement is idempotent,
 * which covers a retry after a crash between the peer's commit and the engine recording the stage as sent.
 */
export function statementWriter(options: StatementWriterOptions): DestinationConnector {
  const o = statementWriterSchema.parse(options);
  const names = [...new Set([...o.statement.matchAll(NAMED)].map((x) => x[1]))];
  let db: Knex | undefined;
  const where = whereOf(o);
  return {
    type: 'database-writer',
    async start() {
      db = openForeignDatabase(o);
    },
    async send(m: OutboundMessage) {
      if (!db) throw new Error('database writer not started');
      const values = bindingsOf(m);
      const missing = names.filter((n) => values[n] === undefined);
      if (missing.length) throw new Error(`message content has no field ${missing.join(', ')} for the statement`);
      try {
        await db.raw(o.statement, Object.fromEntries(names.map((n) => [n, values[n] as Knex.Value]))).timeout(o.timeoutMs, { cancel: true });
        return { response: 'statement executed' };
      } catch (err) {
        if (isUniqueViolation(err)) return { response: `message ${m.messageId} already written (unique key)` };
        throw writeFailure(err, where, o.timeoutMs);
      }
    },
    async stop() {
      await db?.destroy();
      db = undefined;
    },
  };
}
