import type { Delivery, Handler } from '../bus/bus';
import type { DestinationDefinition, OutboundMessage } from '../channel/channel';
import type { MessageStore } from '../message-store/types';
import type { ChannelStats } from './channel-stats';

/** What travels on a destination queue: enough to send without reading the store on the happy path. */
export interface DestinationEnvelope {
  messageId: string;
  channelId: string;
  destination: string;
  correlationId: string;
  content: string;
  receivedAt: number;
  /** How many destination stages the message has; absent on envelopes of older versions and from the sweep. */
  destinations?: number;
}

interface Log {
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

const MAX_RECORDED = 64 * 1024;

function describe(err: unknown): string {
  const e = err as Error;
  return (e?.message ?? String(err)).slice(0, MAX_RECORDED);
}

/**
 * Consumes one destination's queue: sends, records the outcome on the stage, and lets the bus retry or dead-letter
 * by rethrowing. A delivery that may have been seen before (redelivered, or re-published by the sweep) is checked
 * against the store first, so a message already sent is not sent again.
 */
export function destinationHandler(dest: DestinationDefinition, store: MessageStore, stats: ChannelStats, log: Log, settle: (messageId: string, stage: string) => void = () => undefined): Handler {
  return async (delivery: Delivery) => {
    const env = delivery.body as DestinationEnvelope;
    const meta = { channel: env.channelId, destination: dest.name, messageId: env.messageId, correlationId: env.correlationId, attempt: delivery.attempt };
    if (delivery.redelivered || delivery.headers?.recovered) {
      const status = await store.stageStatus(env.messageId, dest.name);
      if (status === 'sent' || status === 'error') {
        settle(env.messageId, dest.name);
        return;
      }
    }
    const outbound: OutboundMessage = { ...env, destination: dest.name, attempt: delivery.attempt };
    const soleDestination = env.destinations === 1;
    try {
      const response = await dest.connector.send(outbound);
      dest.checkResponse?.(response);
      settle(env.messageId, dest.name);
      await store.updateStage({ messageId: env.messageId, stage: dest.name, status: 'sent', response: response.response?.slice(0, MAX_RECORDED) ?? null, error: null, attempts: delivery.attempt, soleDestination });
      stats.count(env.channelId, 'sent');
      stats.delivered(env.channelId, env.receivedAt);
    } catch (err) {
      const error = describe(err);
      const final = delivery.lastAttempt;
      settle(env.messageId, dest.name);
      try {
        await store.recordAttemptError(env.messageId, { stage: dest.name, attempt: delivery.attempt, error, at: Date.now() });
        await store.updateStage({ messageId: env.messageId, stage: dest.name, status: final ? 'error' : 'queued', error, attempts: delivery.attempt, soleDestination });
      } catch (storeErr) {
        log.error('could not record a failed attempt', { ...meta, error: describe(storeErr) });
      }
      if (final) {
        stats.count(env.channelId, 'errored');
        log.error('destination failed for good; message dead-lettered', { ...meta, error });
      } else {
        log.warn('destination attempt failed; will retry', { ...meta, error });
      }
      throw err;
    }
  };
}
