import * as amqp from 'amqplib';
import { z } from 'zod';
import { AMQP_SOCKET_OPTIONS, coalesceWrites } from '../../engine/bus/amqp-socket';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { brokerLabel, brokerUrl, foreignBrokerSchema } from './foreign-broker';

export const amqpPublisherSchema = foreignBrokerSchema.extend({
  /** '' is the default exchange, where the routing key is a queue name. */
  exchange: z.string(),
  routingKey: z.string().default(''),
  contentType: z.string().default('application/json'),
  /** Unroutable messages come back as an error instead of vanishing (the vendor's binding is missing). */
  mandatory: z.boolean().default(true),
  connectTimeoutMs: z.number().int().min(1).default(10_000),
  confirmTimeoutMs: z.number().int().min(1).default(10_000),
}).strict();

export type AmqpPublisherOptions = z.input<typeof amqpPublisherSchema>;

function withDeadline<T>(p: Promise<T>, ms: number, what: string, onLate?: (v: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => { late = true; reject(new Error(`${what}: no answer within ${ms} ms`)); }, ms);
    p.then((v) => { clearTimeout(timer); if (late) onLate?.(v); else resolve(v); },
      (err) => { clearTimeout(timer); if (!late) reject(err); });
  });
}

function describeFailure(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  return `${e.message ?? String(err)}${e.code && !String(e.message).includes(e.code) ? ` (${e.code})` : ''}`;
}

/**
 * Publishes each message to a foreign exchange on a confirm channel and counts it as sent only on the broker's ack.
 * The connection is opened on first use and dropped on any failure, so every attempt starts from a clean state and
 * each failure (refused, silent broker, garbage on the wire, nack, unroutable, channel closed by the broker) is one
 * recorded error that the destination queue retries. The message id goes out as the AMQP message-id for the
 * vendor's duplicate check.
 */
export function amqpPublisher(options: AmqpPublisherOptions): DestinationConnector {
  const o = amqpPublisherSchema.parse(options);
  let conn: Promise<{ model: amqp.ChannelModel; channel: amqp.ConfirmChannel; returned: Set<string>; closedBecause: { reason: string } }> | undefined;
  let label = 'broker';

  const drop = () => {
    const c = conn;
    conn = undefined;
    void c?.then((x) => x.model.close()).catch(() => undefined);
  };

  const connect = () => {
    if (!conn) {
      const url = brokerUrl(o);
      label = brokerLabel(url);
      const attempt = (async () => {
        const model = await withDeadline(amqp.connect(url, AMQP_SOCKET_OPTIONS), o.connectTimeoutMs, `connect to ${label}`, (m) => void m.close().catch(() => undefined));
        coalesceWrites(model);
        model.on('error', () => undefined);
        model.on('close', () => { if (conn === attempt) conn = undefined; });
        const channel = await model.createConfirmChannel();
        const returned = new Set<string>();
        const closedBecause = { reason: '' };
        channel.on('error', (err: Error) => { closedBecause.reason = err.message; });
        channel.on('close', () => { if (conn === attempt) drop(); });
        channel.on('return', (msg: amqp.Message) => returned.add(String(msg.properties.messageId)));
        return { model, channel, returned, closedBecause };
      })();
      conn = attempt;
      attempt.catch(() => { if (conn === attempt) conn = undefined; });
    }
    return conn;
  };

  return {
    type: 'amqp-publisher',
    async send(m: OutboundMessage) {
      const where = `publish to ${label} exchange "${o.exchange}" key "${o.routingKey}"`;
      try {
        const { channel, returned, closedBecause } = await connect();
        await withDeadline(new Promise<void>((resolve, reject) => {
          const onClose = () => reject(new Error(`channel closed by the broker${closedBecause.reason ? `: ${closedBecause.reason}` : ''}`));
          channel.once('close', onClose);
          channel.publish(o.exchange, o.routingKey, Buffer.from(m.content, 'utf8'), {
            persistent: true, mandatory: o.mandatory, contentType: o.contentType, messageId: m.messageId, correlationId: m.correlationId,
            timestamp: Math.floor(Date.now() / 1000),
          }, (err) => {
            channel.off('close', onClose);
            // basic.return precedes basic.ack for an unroutable mandatory message.
            // A confirm failed by a channel the broker closed carries no reason of its own; the channel error has it.
            if (err) setImmediate(() => reject(new Error(closedBecause.reason ? `channel closed by the broker: ${closedBecause.reason}` : 'broker nacked the message')));
            else if (returned.delete(m.messageId)) reject(new Error('no queue bound for this routing key (returned unroutable)'));
            else resolve();
          });
        }), o.confirmTimeoutMs, 'publisher confirm');
        return { response: `confirmed by ${label}` };
      } catch (err) {
        drop();
        throw new Error(`${where.replace('broker', label)}: ${describeFailure(err)}`);
      }
    },
    async stop() {
      drop();
    },
  };
}
