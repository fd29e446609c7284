/**
 * The message bus contract. Two implementations (RabbitMQ and in-process) pass one contract suite
 * (test/engine/bus/bus-contract.ts), so the runtime never knows which one it is on.
 */
/** Where a bus implementation reports connection trouble and recoveries; the server passes its logger. */
export type BusLogger = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, meta?: Record<string, unknown>) => void;

export interface BusMessage {
  /** Unique id of this bus message; also the idempotency key for consumers. */
  id: string;
  /** Payload; JSON-serialisable. */
  body: unknown;
  /** Ordering key: messages with the same key are handled one at a time, in publish order, when the subscription is ordered. */
  key?: string;
  headers?: Record<string, string | number | boolean>;
}

export interface Delivery extends BusMessage {
  /** 1 on the first delivery; counts every handler run, including runs lost to a consumer crash. */
  attempt: number;
  /** True when the bus cannot rule out that an earlier delivery reached the handler (crash, reconnect, restart). */
  redelivered: boolean;
  /** True when this is the last attempt the retry policy allows; a throw now dead-letters the message. */
  lastAttempt: boolean;
}

export interface RetryPolicy {
  /** Handler runs before the message goes to the dead-letter queue; 1 = no retry. */
  maxAttempts: number;
  /** Delay before the 2nd attempt, ms. */
  initialDelayMs: number;
  /** Cap on any delay, ms. */
  maxDelayMs: number;
  /** Delay multiplier per attempt. */
  multiplier: number;
  /** 0..1: the delay is spread uniformly over ±jitter×delay so that retries of a burst do not arrive together. */
  jitter: number;
}

export interface SubscribeOptions {
  /** Handler runs in flight at once on this consumer (prefetch on RabbitMQ). */
  concurrency: number;
  retry: RetryPolicy;
  /** Keep per-key order (BusMessage.key): one key's messages strictly in order, different keys in parallel. */
  ordered?: boolean;
}

/** Resolve = ack. Throw = nack: retried after backoff, dead-lettered after the last attempt. */
export type Handler = (delivery: Delivery) => Promise<void>;

export interface Subscription {
  /** Stop consuming; deliveries in the handler finish first; unacked ones go back to the queue. */
  close(): Promise<void>;
}

export interface DeadLetter extends BusMessage {
  queue: string;
  attempts: number;
  lastError: string;
}

/** A message for a topic exchange: delivered to every queue bound with a pattern that matches `routingKey`. */
export interface TopicMessage extends BusMessage {
  /** Dot-separated words, e.g. `ServiceRequest.update`. */
  routingKey: string;
}

export interface Bus {
  readonly kind: 'rabbitmq' | 'in-process';
  start(): Promise<void>;
  /** Resolves once the bus has taken durable responsibility for the messages (publisher confirm / committed row). */
  publish(queue: string, messages: BusMessage[]): Promise<void>;
  subscribe(queue: string, handler: Handler, options: SubscribeOptions): Promise<Subscription>;
  /**
   * Publish to a topic exchange (AMQP topic semantics); resolves once every bound queue holds its copy durably.
   * A message that matches no binding is dropped, as on RabbitMQ.
   */
  publishTopic(exchange: string, messages: TopicMessage[]): Promise<void>;
  /** Bind `queue` to `exchange` for routing keys matching `pattern` (`*` = one word, `#` = zero or more); idempotent. */
  bindTopic(queue: string, exchange: string, pattern: string): Promise<void>;
  /** Messages that exhausted their attempts on `queue`, oldest first. */
  deadLetters(queue: string, limit?: number): Promise<DeadLetter[]>;
  /** Remove a message from the dead-letter queue (after it was reprocessed). */
  dropDeadLetter(queue: string, id: string): Promise<void>;
  /** Messages waiting (ready + delayed retries), for metrics and tests. */
  depth(queue: string): Promise<number>;
  /** For readiness: is the bus able to accept publishes now? */
  healthy(): boolean;
  close(): Promise<void>;
}

/** Delay before attempt `attempt + 1` after `attempt` failed. Exponential, capped, with jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, attempt - 1));
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
