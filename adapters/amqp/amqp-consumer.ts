import * as amqp from 'amqplib';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { AMQP_SOCKET_OPTIONS, coalesceWrites } from '../../engine/bus/amqp-socket';
import { childLogger } from '../../engine/logger';
import { alreadyAccepted } from '../already-accepted';
import { brokerLabel, brokerUrl, foreignBrokerSchema } from './foreign-broker';

export const amqpConsumerSchema = foreignBrokerSchema.extend({
  queue: z.string().min(1),
  /**
   * Declare the queue (durable) and bind it to the vendor's exchange. Off when the vendor owns the topology and
   * gives Lingshu a queue to read from — the usual case; a declaration with other arguments would be refused.
   */
  declare: z.object({ exchange: z.string().min(1), routingKey: z.string().default('#') }).strict().optional(),
  /** Messages in flight at once; each one is acked only after its durable accept. */
  prefetch: z.number().int().min(1).max(1000).default(20),
}).strict();

export type AmqpConsumerOptions = z.input<typeof amqpConsumerSchema>;

const TEXTUAL = /^(text\/|application\/(json|xml|fhir\+json|fhir\+xml|hl7-v2|x-hl7))|\+json|\+xml/i;
const PAUSED_RETRY_MS = 1000;

/**
 * Consumes a foreign RabbitMQ queue (some HIS vendors push orders and results that way). A delivery is acked only
 * once the engine has stored it; if the engine dies first the broker redelivers it. A redelivered message carrying a
 * message-id that the channel already stored is acked without a second accept, so a crash between store and ack
 * makes no duplicate. Reconnects with backoff through amqplib's recovery.
 */
export function amqpConsumer(ownDb: Knex, options: AmqpConsumerOptions): SourceConnector {
  const o = amqpConsumerSchema.parse(options);
  let model: amqp.RecoveringChannelModel | undefined;
  return {
    type: 'amqp-consumer',
    async start(ctx: SourceContext) {
      const url = brokerUrl(o);
      const label = brokerLabel(url);
      const log = childLogger({ component: 'amqp-consumer', channel: ctx.channelId, broker: label, queue: o.queue });

      const handle = async (ch: amqp.Channel, msg: amqp.ConsumeMessage) => {
        try {
          if (!ctx.accepting()) {
            // Paused: hand it back, later, so that a paused channel does not spin on the same message.
            setTimeout(() => { try { ch.nack(msg, false, true); } catch { /* channel gone: the broker requeues */ } }, PAUSED_RETRY_MS);
            return;
          }
          const key = msg.properties.messageId ? String(msg.properties.messageId).slice(0, 255) : undefined;
          if (key && msg.fields.redelivered && (await alreadyAccepted(ownDb, ctx.channelId, [key])).has(key)) {
            ch.ack(msg);
            return;
          }
          const contentType = String(msg.properties.contentType ?? 'application/octet-stream');
          const textual = TEXTUAL.test(contentType) || /charset=/i.test(contentType);
          await ctx.accept({
            content: textual ? msg.content.toString('utf8') : msg.content.toString('base64'),
            contentType, encoding: textual ? 'utf-8' : 'base64',
            correlationId: key ?? (msg.properties.correlationId ? String(msg.properties.correlationId).slice(0, 255) : undefined),
          });
          ch.ack(msg);
        } catch (err) {
          log.warn('message not stored; returned to the queue', { error: (err as Error).message });
          setTimeout(() => { try { ch.nack(msg, false, true); } catch { /* channel gone: the broker requeues */ } }, PAUSED_RETRY_MS);
        }
      };

      model = await amqp.connect(url, {
        ...AMQP_SOCKET_OPTIONS,
        recovery: {
          initialDelay: 200,
          maxDelay: 10_000,
          // A wrong URL fails the deploy; once connected, a vendor broker restart is ridden out indefinitely.
          initialMaxRetries: 3,
          setup: async (m: amqp.ChannelModel) => {
            coalesceWrites(m);
            m.on('error', () => undefined);
            const ch = await m.createChannel();
            ch.on('error', (err: Error) => log.warn('consumer channel error', { error: err.message }));
            await ch.prefetch(o.prefetch);
            if (o.declare) {
              await ch.assertQueue(o.queue, { durable: true });
              await ch.bindQueue(o.queue, o.declare.exchange, o.declare.routingKey);
            }
            await ch.consume(o.queue, (msg) => { if (msg) void handle(ch, msg); }, { noAck: false });
          },
        },
      });
      model.on('disconnect', (err: Error) => log.warn('foreign broker connection lost; reconnecting', { error: err.message }));
      model.on('error', () => undefined);
    },
    async stop() {
      await model?.close().catch(() => undefined);
      model = undefined;
    },
  };
}
