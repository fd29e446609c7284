import type { Router } from 'express';
import type { QueuePolicy } from '../config/config';
import type { MessageStatus } from '../message-store/types';

/** A message as a source hands it to the engine, before it is stored. */
export interface InboundMessage {
  content: string;
  contentType: string;
  /** Charset the bytes arrived in (content is already decoded); 'base64' for binary bodies. */
  encoding?: string;
  /** From the sender where it carries one (HTTP header, MSH-10 …); otherwise the message id is used. */
  correlationId?: string;
}

export interface AcceptResult {
  messageId: string;
  correlationId: string;
  status: MessageStatus;
}

/** What the engine gives a source: a way to hand messages in, and the shared HTTP router for HTTP sources. */
export interface SourceContext {
  channelId: string;
  /** Resolves once the message is durably stored: only then may the sender be acknowledged. */
  accept(message: InboundMessage): Promise<AcceptResult>;
  /** Is the channel accepting? A paused channel's HTTP source answers 503 so the sender retries later. */
  accepting(): boolean;
  /** Mounted at /channels/<channelId> on the engine's HTTP port. */
  httpRouter(): Router;
  /**
   * Registers a cron job that runs on one node only when nodes share a database; `leaseMs` is how soon another node
   * may take over a run whose node died (engine/scheduler.ts).
   */
  schedule(cron: string, job: () => Promise<void>, options?: { leaseMs?: number }): void;
}

export interface SourceConnector {
  readonly type: string;
  start(ctx: SourceContext): Promise<void>;
  stop(): Promise<void>;
}

/** The message as filters and transformers see it. */
export interface ChannelMessage {
  id: string;
  channelId: string;
  correlationId: string;
  content: string;
  contentType: string;
}

export interface Filter {
  name: string;
  /** true = keep. */
  accept(message: ChannelMessage): boolean;
}

/** Returns the content destinations send (objects are serialised as JSON). Throwing marks the message 'error'. */
export type Transformer = (message: ChannelMessage) => string | object;

export interface OutboundMessage {
  messageId: string;
  channelId: string;
  destination: string;
  correlationId: string;
  content: string;
  attempt: number;
  /**
   * What the transformer returned before it was serialised into `content`, for a destination's `orderBy` at ingest
   * (read-only; it need not parse the content again). Absent where the message comes back from the store or the bus.
   */
  transformed?: unknown;
}

export interface DestinationResponse {
  /** Recorded on the stage: the peer's answer (ACK, HTTP body …). */
  response?: string;
}

export interface DestinationConnector {
  readonly type: string;
  start?(): Promise<void>;
  /** Throw to fail the attempt; the queue policy retries it. */
  send(message: OutboundMessage): Promise<DestinationResponse>;
  stop?(): Promise<void>;
}

export interface DestinationDefinition {
  name: string;
  connector: DestinationConnector;
  queue?: Partial<QueuePolicy>;
  /** Keep the order of messages with the same key (e.g. patient id) through retries. */
  orderBy?: (message: OutboundMessage) => string | undefined;
  /** Inspects the peer's answer; throw to turn an accepted transport call into a failed attempt (e.g. HL7 AE). */
  checkResponse?: (response: DestinationResponse) => void;
}

export interface ChannelDefinition {
  id: string;
  description?: string;
  source: SourceConnector;
  filters?: Filter[];
  transformer?: Transformer;
  destinations: DestinationDefinition[];
  prune?: { contentDays: number; metadataDays: number };
  /** Where the definition came from, for error messages: a YAML file or a TypeScript module. */
  origin?: string;
}

export class ChannelDefinitionError extends Error {
  constructor(readonly origin: string, readonly channelId: string, readonly field: string, detail: string) {
    super(`${origin}: channel ${channelId || '(no id)'}: ${field}: ${detail}`);
  }
}

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Checks what TypeScript cannot: ids, names, uniqueness, policy bounds. */
export function validateChannel(def: ChannelDefinition): void {
  const origin = def.origin ?? 'channel definition';
  const fail = (field: string, detail: string): never => { throw new ChannelDefinitionError(origin, def.id, field, detail); };
  if (!def.id || !ID.test(def.id)) fail('id', 'must be lower-case letters, digits and dashes (at most 63)');
  if (!def.source || typeof def.source.start !== 'function') fail('source', 'is required');
  if (!Array.isArray(def.destinations) || def.destinations.length === 0) fail('destinations', 'at least one destination is required');
  const names = new Set<string>();
  def.destinations.forEach((d, i) => {
    if (!d.name || !ID.test(d.name)) fail(`destinations[${i}].name`, 'must be lower-case letters, digits and dashes');
    if (names.has(d.name)) fail(`destinations[${i}].name`, `duplicate destination name "${d.name}"`);
    names.add(d.name);
    if (!d.connector || typeof d.connector.send !== 'function') fail(`destinations[${i}].connector`, 'is required');
    const q = d.queue ?? {};
    if (q.maxAttempts !== undefined && (!Number.isInteger(q.maxAttempts) || q.maxAttempts < 1)) fail(`destinations[${i}].queue.maxAttempts`, 'must be an integer ≥ 1');
    if (q.concurrency !== undefined && (!Number.isInteger(q.concurrency) || q.concurrency < 1)) fail(`destinations[${i}].queue.concurrency`, 'must be an integer ≥ 1');
  });
}

/** Declares a channel in TypeScript (channels/*.ts). */
export function channel(def: ChannelDefinition): ChannelDefinition {
  return def;
}
