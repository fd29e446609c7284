import type { Knex } from 'knex';
import { isUniqueViolation } from '../../engine/db';
import { runMigrations } from '../../engine/migrations';
import type { DeliveryReceipt } from './sms-gateway';

export const SMS_TABLE = 'lingshu_sms_messages';

/**
 * One row per SMS submitted: which message, which template, the gateway's id, and what the receipt said. The phone
 * is kept masked only — the full number is in the message content, which the store protects and prunes.
 */
export async function migrateSmsRecords(db: Knex): Promise<void> {
  await runMigrations(db, 'sms', [
    async (k) => {
      await k.schema.createTable(SMS_TABLE, (t) => {
        t.string('message_id', 64).primary();
        t.string('gateway_message_id', 128).notNullable().unique();
        t.string('template_id', 64).notNullable();
        t.string('phone_masked', 32).notNullable();
        t.string('status', 16).notNullable();
        t.string('receipt_code', 64).nullable();
        t.bigInteger('submitted_at').notNullable();
        t.bigInteger('receipt_at').nullable();
      });
    },
  ]);
}

export async function submittedGatewayId(db: Knex, messageId: string): Promise<string | undefined> {
  const row = await db(SMS_TABLE).where({ message_id: messageId }).first('gateway_message_id');
  return row ? String(row.gateway_message_id) : undefined;
}

export async function recordSubmitted(db: Knex, row: { messageId: string; gatewayMessageId: string; templateId: string; phoneMasked: string }): Promise<void> {
  try {
    await db(SMS_TABLE).insert({
      message_id: row.messageId, gateway_message_id: row.gatewayMessageId, template_id: row.templateId,
      phone_masked: row.phoneMasked, status: 'submitted', submitted_at: Date.now(),
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
}

/** Returns how many receipts matched an SMS we sent; a receipt for an unknown id is kept out (another system's SMS). */
export async function recordReceipts(db: Knex, receipts: DeliveryReceipt[]): Promise<number> {
  let matched = 0;
  for (const r of receipts) {
    matched += await db(SMS_TABLE).where({ gateway_message_id: r.gatewayMessageId })
      .update({ status: r.status, receipt_code: r.code ?? null, receipt_at: r.at });
  }
  return matched;
}
