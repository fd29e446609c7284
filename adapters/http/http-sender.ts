import { XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { HttpClientError, HttpPeer, httpPeerSchema, HttpReply } from './http-peer';

export const httpSenderSchema = httpPeerSchema.extend({
  contentType: z.string().default('application/json; charset=utf-8'),
  /** What a good reply must be; anything else is a malformed reply, recorded and retried like a failure. */
  expect: z.enum(['any', 'json', 'xml']).default('any'),
  /**
   * 4xx: 'retry' keeps trying by the queue policy and dead-letters the message after the last attempt (the default:
   * an operator sees it); 'accept' records the reply and counts the message as sent (for peers that answer 409 or
   * 422 to a duplicate and mean "already have it").
   */
  clientErrors: z.enum(['retry', 'accept']).default('retry'),
}).strict();

export type HttpSenderOptions = z.input<typeof httpSenderSchema>;

export function checkReply(expect: 'any' | 'json' | 'xml'): (reply: HttpReply) => void {
  return (reply) => {
    if (expect === 'json') JSON.parse(reply.body);
    if (expect === 'xml') {
      const valid = XMLValidator.validate(reply.body);
      if (valid !== true) throw new Error(`not XML: ${valid.err.msg}`);
    }
  };
}

/**
 * Sends each message to a foreign web API. The message id goes out as Idempotency-Key, so a peer that honours it
 * ignores the repeat the engine may send after a crash between the peer's answer and the stage being recorded.
 */
export function httpSender(options: HttpSenderOptions): DestinationConnector {
  const o = httpSenderSchema.parse(options);
  const check = checkReply(o.expect);
  // Made at start, so that a redeployed channel (stop, then start again) gets a fresh pool and a closed circuit.
  let peer: HttpPeer | undefined;
  return {
    type: 'http-sender',
    async start() {
      const { contentType: _c, expect: _e, clientErrors: _x, ...peerOptions } = o;
      peer = new HttpPeer(peerOptions);
    },
    async send(m: OutboundMessage) {
      if (!peer) throw new Error('HTTP sender not started');
      const headers = { 'content-type': o.contentType, 'idempotency-key': m.messageId, 'x-correlation-id': m.correlationId };
      try {
        const reply = await peer.exchange(o.method === 'GET' ? undefined : m.content, headers, check);
        return { response: `HTTP ${reply.status}: ${reply.body}` };
      } catch (err) {
        if (err instanceof HttpClientError && o.clientErrors === 'accept') return { response: `HTTP ${err.reply.status}: ${err.reply.body}` };
        throw err;
      }
    },
    async stop() {
      await peer?.close();
      peer = undefined;
    },
  };
}
