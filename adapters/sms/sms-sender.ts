import type { Knex } from 'knex';
import { z } from 'zod';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { maskPhone, SmsGateway } from './sms-gateway';
import { migrateSmsRecords, recordSubmitted, submittedGatewayId } from './sms-records';

/** What the channel's transformer produces for this destination. */
const smsContent = z.object({
  templateId: z.string().min(1),
  params: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).default({}),
  phone: z.string().regex(/^(\+?86)?1[3-9]\d{9}$/, 'a mainland mobile number'),
});

/**
 * Sends each message as one templated SMS and records it for receipts. A message already recorded as submitted is
 * not sent again: that is the retry after a crash between the gateway's answer and the stage being marked sent,
 * and a patient must not get the same 取药码 SMS twice.
 */
export function smsSender(db: Knex, makeGateway: () => SmsGateway): DestinationConnector {
  const log = childLogger({ component: 'sms-sender' });
  let gateway: SmsGateway | undefined;
  return {
    type: 'sms',
    async start() {
      await migrateSmsRecords(db);
      gateway = makeGateway();
    },
    async send(m: OutboundMessage) {
      if (!gateway) throw new Error('SMS sender not started');
      const earlier = await submittedGatewayId(db, m.messageId);
      if (earlier) return { response: `already submitted as ${earlier}` };
      let sms: z.infer<typeof smsContent>;
      try {
        sms = smsContent.parse(JSON.parse(m.content));
      } catch (err) {
        throw new Error(`message content is not an SMS request {templateId, params, phone}: ${(err as Error).message.slice(0, 300)}`);
      }
      const phoneMasked = maskPhone(sms.phone);
      const gatewayMessageId = await gateway.send(sms.templateId, sms.params, sms.phone, m.messageId);
      await recordSubmitted(db, { messageId: m.messageId, gatewayMessageId, templateId: sms.templateId, phoneMasked });
      log.info('SMS submitted', { channel: m.channelId, messageId: m.messageId, templateId: sms.templateId, phone: phoneMasked, gatewayMessageId });
      return { response: `submitted as ${gatewayMessageId} to ${phoneMasked}` };
    },
    async stop() {
      await gateway?.close?.();
      gateway = undefined;
    },
  };
}
