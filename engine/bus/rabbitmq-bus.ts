import type { Channel, ChannelModel, Message } from 'amqplib';
import { Bus, BusLogger, BusMessage, DeadLetter, Handler, RetryPolicy, retryDelay, SubscribeOptions, Subscription, TopicMessage } from './bus';
import { AmqpConnection, partitionOf, UnroutableError } from './rabbitmq-connection';
import { carriedHeaders, decodeBody, H_ATTEMPTS, H_DELAY, H_ERROR, H_KEY, RabbitSubscription, userHeaders } from './rabbitmq-subscription';

/*
 * Topology of a logical queue Q (all names behind the `prefix` option):
 *   Q               quorum; messages without a key
 *   Q.p0 … Q.p<N-1> quorum, single-active-consumer; messages with a key, partition = FNV-1a(key) mod N
 *   Q.retry         headers exchange in front of the delay queues
 *   Q.retry.<L>     quorum delay queues, one per backoff level; messages wait out a per-message TTL and are
 *                   dead-lettered through the default exchange with their original routing key, i.e. back to
 *                   the queue they failed on
 *   Q.dlq           quorum; messages that exhausted their attempts
 *
 * Why route by key rather than by subscription mode: the publisher cannot know whether the subscriber of Q is
 * ordered, so keyed messages always go to partitions and every subscriber consumes Q and all partitions. An ordered
 * subscriber serialises per key within its partitions; single-active-consumer makes sure that among competing
 * subscribers only one handles a partition at a time, which is what keeps a key's order across processes. The
 * price: competing unordered subscribers also share keyed messages only partition by partition. All publishers and
 * subscribers of Q must agree on the partition count.
 *
 * Topic exchanges (publishTopic/bindTopic) keep the same partitioning without a hashing plugin: the publisher
 * prefixes the routing key with its partition (`p<i>.` for keyed messages, `_.` otherwise) and a binding of pattern
 * P binds Q to `_.P` and each Q.p<i> to `p<i>.P`, so a key's events land in the same partition queue as a direct
 * publish of that key would.
 */

/**
 * RabbitMQ 4 gives quorum queues a default delivery limit of 20 and drops messages past it; attempts are counted
 * and bounded by the bus itself, and listing dead letters requeues them, so the broker limit is set out of reach.
 */
const QUORUM = { 'x-queue-type': 'quorum', 'x-delivery-limit': 1_000_000_000 };

export interface RabbitMqBusOptions {
  /** Prepended to every broker object name (environments sharing a vhost, tests). */
  prefix?: string;
  /** Partition queues per logical queue for keyed messages; must be the same in every process. Default 4. */
  partitions?: number;
  logger?: BusLogger;
}

export interface QueueNames {
  main: string;
  partitions: string[];
  dlq: string;
  retryExchange: string;
  delay(level: number): string;
}

export class RabbitMqBus implements Bus {
  readonly kind = 'rabbitmq' as const;
  readonly conn: AmqpConnection;
  readonly log: BusLogger;
  private readonly prefix: string;
  private readonly partitions: number;
  private readonly declared = new WeakMap<ChannelModel, Map<string, Promise<void>>>();
  private readonly queues = new Set<string>();
  private readonly delayLevels = new Map<string, number>();
  private readonly subs = new Set<RabbitSubscription>();
  private readonly exchanges = new Set<string>();
  private readonly topicBindings = new Map<string, { queue: string; exchange: string; pattern: string }>();

  constructor(url: string, options: RabbitMqBusOptions = {}) {
    this.prefix = options.prefix ?? '';
    this.partitions = Math.max(1, options.partitions ?? 4);
    this.log = options.logger ?? (() => undefined);
    this.conn = new AmqpConnection(url, this.log);
    // Registered first, so the topology exists again before subscriptions re-consume after a broker restart.
    this.conn.addHook((model) => this.redeclare(model));
  }

  async start(): Promise<void> {
    await this.conn.open();
  }

  async publish(queue: string, messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const n = this.names(queue);
    const model = await this.ensureQueue(queue);
    await this.conn.publish(messages.map((m) => ({
      exchange: '',
      routingKey: m.key === undefined ? n.main : n.partitions[partitionOf(m.key, this.partitions)],
      content: Buffer.from(JSON.stringify(m.body === undefined ? null : m.body)),
      options: {
        persistent: true,
        messageId: m.id,
        contentType: 'application/json',
        headers: m.key === undefined ? { ...m.headers } : { ...m.headers, [H_KEY]: m.key },
      },
    }))).catch((err: Error) => {
      // Unroutable means the queues were deleted behind our back: declare them again on the next publish.
      if (err instanceof UnroutableError) this.forgetDeclarations(queue, model);
      throw err;
    });
  }

  async publishTopic(exchange: string, messages: TopicMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const model = await this.conn.whenConnected();
    await this.ensureExchange(model, exchange);
    await this.conn.publish(messages.map((m) => ({
      exchange: this.prefix + exchange,
      routingKey: `${m.key === undefined ? '_' : `p${partitionOf(m.key, this.partitions)}`}.${m.routingKey}`,
      content: Buffer.from(JSON.stringify(m.body === undefined ? null : m.body)),
      options: {
        persistent: true,
        // Unbound routing keys are dropped, as topic semantics say; the confirm still covers every bound queue.
        mandatory: false,
        messageId: m.id,
        contentType: 'application/json',
        headers: { ...m.headers, routingKey: m.routingKey, ...(m.key === undefined ? {} : { [H_KEY]: m.key }) },
      },
    })));
  }

  async bindTopic(queue: string, exchange: string, pattern: string): Promise<void> {
    this.topicBindings.set(`${exchange}\u0000${queue}\u0000${pattern}`, { queue, exchange, pattern });
    await this.declareBinding(await this.ensureQueue(queue), queue, exchange, pattern);
  }

  private async ensureExchange(model: ChannelModel, exchange: string): Promise<void> {
    this.exchanges.add(exchange);
    await this.once(model, `x:${exchange}`, (ch) => ch.assertExchange(this.prefix + exchange, 'topic', { durable: true }).then(() => undefined));
  }

  private async declareBinding(model: ChannelModel, queue: string, exchange: string, pattern: string): Promise<void> {
    await this.ensureExchange(model, exchange);
    const n = this.names(queue);
    await this.once(model, `b:${exchange}:${queue}:${pattern}`, async (ch) => {
      await ch.bindQueue(n.main, this.prefix + exchange, `_.${pattern}`);
      for (let i = 0; i < n.partitions.length; i++) await ch.bindQueue(n.partitions[i], this.prefix + exchange, `p${i}.${pattern}`);
    });
  }

  async subscribe(queue: string, handler: Handler, options: SubscribeOptions): Promise<Subscription> {
    await this.ensureQueue(queue);
    // Delay queues are declared when a message first needs one (retry below): most queues never retry, and each
    // level is a quorum queue — a hospital's channels declared up front came to hundreds a 2-core broker chokes on.
    const sub = new RabbitSubscription(this, queue, this.names(queue), handler, options);
    this.subs.add(sub);
    this.conn.addHook(sub.hook);
    await sub.attach(await this.conn.whenConnected());
    return sub;
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    await this.scanDeadLetters(queue, (m) => {
      if (out.length >= limit) return 'stop';
      out.push(toDeadLetter(queue, m));
      return 'keep';
    });
    return out;
  }

  async dropDeadLetter(queue: string, id: string): Promise<void> {
    await this.scanDeadLetters(queue, (m) => (m.properties.messageId === id ? 'drop' : 'keep'));
  }

  async depth(queue: string): Promise<number> {
    const n = this.names(queue);
    const model = await this.ensureQueue(queue);
    const ch = await this.conn.topologyChannel(model);
    const levels = Array.from({ length: this.delayLevels.get(queue) ?? 0 }, (_, i) => n.delay(i + 1));
    const counts = await Promise.all([n.main, ...n.partitions, ...levels].map((q) => ch.checkQueue(q)));
    return counts.reduce((sum, c) => sum + c.messageCount, 0);
  }

  healthy(): boolean {
    return this.conn.healthy();
  }

  async close(): Promise<void> {
    await Promise.all([...this.subs].map((s) => s.close()));
    await this.conn.close();
  }

  /** Drops the connection without waiting for running handlers: to the broker this is a crashed process. */
  async abort(): Promise<void> {
    for (const s of this.subs) s.abandon();
    this.subs.clear();
    await this.conn.close();
  }

  /** Logical queue names this instance has declared (tests clean up with removeQueue). */
  queueNames(): string[] {
    return [...this.queues];
  }

  /** Topic exchanges this instance has declared (tests clean up with removeExchange). */
  exchangeNames(): string[] {
    return [...this.exchanges];
  }

  async removeExchange(exchange: string): Promise<void> {
    const ch = await this.conn.topologyChannel();
    await ch.deleteExchange(this.prefix + exchange);
    this.exchanges.delete(exchange);
  }

  /** Deletes every broker object of a logical queue, messages included (decommissioning a channel, tests). */
  async removeQueue(queue: string): Promise<void> {
    const n = this.names(queue);
    const ch = await this.conn.topologyChannel();
    const levels = Math.max(this.delayLevels.get(queue) ?? 0, 8);
    for (const q of [n.main, ...n.partitions, n.dlq, ...Array.from({ length: levels }, (_, i) => n.delay(i + 1))]) {
      await ch.deleteQueue(q);
    }
    await ch.deleteExchange(n.retryExchange);
    this.queues.delete(queue);
    this.delayLevels.delete(queue);
    for (const [k, b] of this.topicBindings) if (b.queue === queue) this.topicBindings.delete(k);
  }

  names(queue: string): QueueNames {
    const main = `${this.prefix}${queue}`;
    return {
      main,
      partitions: Array.from({ length: this.partitions }, (_, i) => `${main}.p${i}`),
      dlq: `${main}.dlq`,
      retryExchange: `${main}.retry`,
      delay: (level) => `${main}.retry.${level}`,
    };
  }

  /** Republishes a failed message into the delay queue of its backoff level; it comes back to `target` after `ms`. */
  async delay(queue: string, target: string, msg: Message, attempts: number, policy: RetryPolicy): Promise<void> {
    const n = this.names(queue);
    const level = delayLevel(policy, attempts);
    await this.ensureDelayLevel(queue, level);
    await this.conn.publish([{
      exchange: n.retryExchange,
      routingKey: target,
      content: msg.content,
      options: {
        persistent: true,
        messageId: msg.properties.messageId,
        contentType: 'application/json',
        expiration: String(retryDelay(policy, attempts)),
        headers: { ...carriedHeaders(msg), [H_ATTEMPTS]: attempts, [H_DELAY]: n.delay(level) },
      },
    }]);
  }

  async deadLetter(queue: string, msg: Message, attempts: number, error: string): Promise<void> {
    await this.conn.publish([{
      exchange: '',
      routingKey: this.names(queue).dlq,
      content: msg.content,
      options: {
        persistent: true,
        messageId: msg.properties.messageId,
        contentType: 'application/json',
        headers: { ...carriedHeaders(msg), [H_ATTEMPTS]: attempts, [H_ERROR]: error.slice(0, 8000) },
      },
    }]);
  }

  forget(sub: RabbitSubscription): void {
    this.subs.delete(sub);
    this.conn.removeHook(sub.hook);
  }

  /**
   * basic.get without ack shows a dead letter without consuming it; everything not dropped is nacked back with
   * requeue before the channel closes, so listing never loses one.
   */
  private async scanDeadLetters(queue: string, visit: (m: Message) => 'keep' | 'drop' | 'stop'): Promise<void> {
    const model = await this.ensureQueue(queue);
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.log('warn', 'RabbitMQ dead-letter channel error', { error: err.message }));
    try {
      for (;;) {
        const m = await ch.get(this.names(queue).dlq, { noAck: false });
        if (m === false) break;
        const verdict = visit(m);
        if (verdict === 'drop') ch.ack(m);
        if (verdict === 'stop') break;
      }
    } finally {
      try { ch.nackAll(true); } catch { /* channel already gone: the broker requeues unacked messages itself */ }
      await ch.close().catch(() => undefined);
    }
  }

  private async ensureQueue(queue: string, setupModel?: ChannelModel): Promise<ChannelModel> {
    this.queues.add(queue);
    const model = setupModel ?? (await this.conn.whenConnected());
    const n = this.names(queue);
    await this.once(model, `q:${queue}`, async (ch) => {
      await Promise.all([
        ch.assertQueue(n.main, { durable: true, arguments: QUORUM }),
        ...n.partitions.map((p) => ch.assertQueue(p, { durable: true, arguments: { ...QUORUM, 'x-single-active-consumer': true } })),
        ch.assertQueue(n.dlq, { durable: true, arguments: QUORUM }),
        ch.assertExchange(n.retryExchange, 'headers', { durable: true }),
      ]);
    });
    return model;
  }

  private async ensureDelayLevel(queue: string, level: number, setupModel?: ChannelModel): Promise<void> {
    this.delayLevels.set(queue, Math.max(level, this.delayLevels.get(queue) ?? 0));
    const model = await this.ensureQueue(queue, setupModel);
    const n = this.names(queue);
    await this.once(model, `d:${queue}:${level}`, async (ch) => {
      // at-least-once dead-lettering (3.10+) keeps a message in the delay queue until the target queue confirmed
      // it; it requires reject-publish overflow.
      await ch.assertQueue(n.delay(level), {
        durable: true,
        arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': '', 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' },
      });
      await ch.bindQueue(n.delay(level), n.retryExchange, '', { 'x-match': 'all', [H_DELAY]: n.delay(level) });
    });
  }

  /** Declarations are cached per connection: a broker restart may have lost nothing, but a new node may have nothing. */
  private once(model: ChannelModel, what: string, declare: (ch: Channel) => Promise<void>): Promise<void> {
    let done = this.declared.get(model);
    if (!done) this.declared.set(model, (done = new Map()));
    let p = done.get(what);
    if (!p) {
      p = this.conn.topologyChannel(model).then(declare);
      done.set(what, p);
      p.catch(() => done!.delete(what));
    }
    return p;
  }

  /** Declares the topology of one queue, or of every queue known to this instance, on `model`. */
  async redeclare(model: ChannelModel, only?: string): Promise<void> {
    for (const queue of only === undefined ? [...this.queues] : [only]) {
      await this.ensureQueue(queue, model);
      for (let level = 1; level <= (this.delayLevels.get(queue) ?? 0); level++) await this.ensureDelayLevel(queue, level, model);
    }
    for (const b of this.topicBindings.values()) {
      if (only === undefined || b.queue === only) await this.declareBinding(model, b.queue, b.exchange, b.pattern);
    }
  }

  forgetDeclarations(queue: string, model: ChannelModel): void {
    const done = this.declared.get(model);
    for (const what of [...(done?.keys() ?? [])]) {
      if (what === `q:${queue}` || what.startsWith(`d:${queue}:`) || (what.startsWith('b:') && what.includes(`:${queue}:`))) done!.delete(what);
    }
  }
}

/**
 * Once the exponential delay reaches maxDelayMs every later attempt waits the same, so they share one delay queue.
 * Keeping similar delays together matters because per-message TTL only expires at the head of a queue: a short
 * delay behind a long one would wait for the long one. Jitter still mixes delays within a level by ±jitter.
 */
function delayLevel(policy: RetryPolicy, attempt: number): number {
  let level = 1;
  while (level < attempt && policy.initialDelayMs * Math.pow(policy.multiplier, level - 1) < policy.maxDelayMs) level++;
  return level;
}

function toDeadLetter(queue: string, m: Message): DeadLetter {
  const h = m.properties.headers ?? {};
  let body: unknown;
  try { body = decodeBody(m); } catch { body = m.content.toString('utf8'); }
  return {
    queue,
    id: String(m.properties.messageId ?? ''),
    body,
    key: h[H_KEY] === undefined ? undefined : String(h[H_KEY]),
    headers: userHeaders(m),
    attempts: Number(h[H_ATTEMPTS] ?? 0),
    lastError: String(h[H_ERROR] ?? ''),
  };
}
