import type { Knex } from 'knex';
import { MESSAGES } from '../engine/message-store/message-store-schema';

/**
 * Which of these source-supplied keys the engine has already stored for a channel.
 *
 * Sources that can hand the same item over twice — a polled row re-read because the engine died before marking it,
 * an AMQP delivery redelivered because the engine died before acking it — put the item's own key in the message's
 * correlation id and ask here before accepting. Accepting and marking the item at the peer can never be one
 * transaction (two databases, or a database and a broker), so this lookup is what makes the pair idempotent.
 * correlation_id is indexed for the message browser, so the lookup is one indexed IN query per batch.
 */
export async function alreadyAccepted(db: Knex, channelId: string, keys: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const rows: { correlation_id: string }[] = await db(MESSAGES)
      .where({ channel_id: channelId })
      .whereIn('correlation_id', keys.slice(i, i + 500))
      .select('correlation_id');
    for (const r of rows) found.add(r.correlation_id);
  }
  return found;
}
