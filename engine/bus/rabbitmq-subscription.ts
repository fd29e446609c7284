import type { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
import { BusMessage, Delivery, Handler, retryDelay, SubscribeOptions, Subscription } from './bus';
import type { QueueNames, RabbitMqBus } from './rabbitmq-bus';
import type { ConnectHook } from './rabbitmq-connection';

// Wire format: BusMessage.id is the AMQP message-id, the body is JSON, the key and the bus's bookkeeping travel in
// headers. Header names starting with `lingshu-` are reserved.
export const H_KEY = 'lingshu-key';
/** Handler runs completed before this copy of the message was published (delay/dead-letter republishes). */
export const H_ATTEMPTS = 'lingshu-attempts';
export const H_ERROR = 'lingshu-error';
/** Matched by the Q.retry headers exchange; a header without `x-` because headers exchanges ignore those in newer brokers. */
export const H_DELAY = 'lingshu-delay';
/** The broker's dead-letter and delivery-count headers and ours are not part of the message the handler sees. */
const NOT_USER_HEADER = /^(lingshu-|x-death$|x-delivery-count$|x-(first|last)-death-)/;
/** A republished copy starts fresh bookkeeping but keeps the caller's headers and the key. */
const NOT_CARRIED_HEADER = /^(lingshu-(attempts|error|delay)$|x-death$|x-delivery-count$|x-(first|last)-death-)/;

export function carriedHeaders(msg: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(msg.properties.headers ?? {})) if (!NOT_CARRIED_HEADER.test(k)) out[k] = v;
  return out;
}

export function userHeaders(msg: Message): BusMessage['headers'] {
  const out: Record<string, string | number | boolean> = {};
  let any = false;
  for (const [k, v] of Object.entries(msg.properties.headers ?? {})) {
    if (NOT_USER_HEADER.test(k)) continue;
    out[k] = typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
    any = true;
  }
  return any ? out : undefined;
}

export function decodeBody(msg: Message): unknown {
  return JSON.parse(msg.content.toString('utf8'));
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) { this.free = Math.max(1, size); }
  acquire(): Promise<void> {
    if (this.free > 0) { this.free--; return Promise.resolve(); }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.free++;
  }
}

type Outcome = { ok: true } | { ok: false; error: string };

export class RabbitSubscription implements Subscription {
  readonly hook: ConnectHook = (model) => this.attach(model);
  private channel: Channel | null = null;
  private attachedTo: ChannelModel | null = null;
  private attaching: Promise<void> = Promise.resolve();
  private closing = false;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private readonly slots: Semaphore;
  /** Tail of each key's serial chain (ordered subscriptions). Shared across channels so that a message redelivered after a reconnect still waits for the old run of its key. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly sleeps = new Set<() => void>();

  constructor(
    private readonly bus: RabbitMqBus,
    private readonly queue: string,
    private readonly n: QueueNames,
    private readonly handler: Handler,
    private readonly options: SubscribeOptions,
  ) {
    this.slots = new Semaphore(options.concurrency);
  }

  /** Consumes on a fresh channel of `model`; idempotent per connection (the connect hook and subscribe may race). */
  attach(model: ChannelModel): Promise<void> {
    if (this.closing || this.attachedTo === model) return this.attaching;
    this.attachedTo = model;
    this.attaching = (async () => {
      const ch = await model.createChannel();
      ch.on('error', (err: Error) => this.bus.log('warn', 'RabbitMQ consumer channel error', { queue: this.queue, error: err.message }));
      ch.on('close', () => this.onChannelClosed(model, ch));
      // Per consumer, not global: quorum queues do not support global QoS. The semaphore bounds handler runs.
      await ch.prefetch(this.options.concurrency);
      this.channel = ch;
      for (const q of [this.n.main, ...this.n.partitions]) {
        await ch.consume(q, (msg) => {
          if (msg) return this.onMessage(ch, q, msg);
          // The broker cancels a consumer when its queue is deleted: start over with declarations and a new channel.
          this.bus.log('warn', 'RabbitMQ cancelled the consumer; re-declaring and re-consuming', { queue: q });
          this.bus.forgetDeclarations(this.queue, model);
          ch.close().catch(() => undefined);
        }, { noAck: false });
      }
    })();
    this.attaching.catch(() => { if (this.attachedTo === model) this.attachedTo = null; });
    return this.attaching;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.bus.forget(this);
    for (const wake of [...this.sleeps]) wake();
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    // No basic.cancel first: with single-active-consumer the broker would hand the partition to the next consumer
    // while our prefetched messages are still checked out, letting later messages of a key overtake them.
    // Closing the channel returns them and moves the partition on in one step.
    const ch = this.channel;
    this.channel = null;
    await ch?.close().catch(() => undefined);
  }

  /** Forget the channel without waiting: the caller is closing the connection as a crash would. */
  abandon(): void {
    this.closing = true;
    this.channel = null;
    for (const wake of [...this.sleeps]) wake();
  }

  private onChannelClosed(model: ChannelModel, ch: Channel): void {
    if (this.channel !== ch) return;
    this.channel = null;
    if (this.closing) return;
    this.attachedTo = null;
    // A channel-level error on a live connection would silently end consumption; a connection loss is handled by
    // the reconnect hook, which is why the re-attach only happens if the same connection is still current.
    setTimeout(() => {
      if (!this.closing && this.bus.conn.current() === model) {
        this.bus.redeclare(model, this.queue)
          .then(() => this.attach(model))
          .catch((err: Error) => this.bus.log('error', 'RabbitMQ re-consume failed', { queue: this.queue, error: err.message }));
      }
    }, 1000).unref();
  }

  private onMessage(ch: Channel, source: string, msg: ConsumeMessage): void {
    const h = msg.properties.headers ?? {};
    // Runs lost to a consumer crash show up in the quorum queue's delivery count; runs before a delay or
    // dead-letter republish travel in our own header, because a republished message starts a fresh count.
    const attempt = Number(h[H_ATTEMPTS] ?? 0) + Number(h['x-delivery-count'] ?? 0) + 1;
    let body: unknown;
    try {
      body = decodeBody(msg);
    } catch (err) {
      void this.settle(ch, msg, () => this.bus.deadLetter(this.queue, msg, attempt, `unreadable message body: ${describe(err)}`));
      return;
    }
    const key = h[H_KEY] === undefined ? undefined : String(h[H_KEY]);
    const base = { id: String(msg.properties.messageId ?? ''), body, key, headers: userHeaders(msg) };
    const max = this.options.retry.maxAttempts;
    const delivery = (n: number): Delivery => ({ ...base, attempt: n, redelivered: msg.fields.redelivered || n > 1, lastAttempt: n >= max });

    if (!this.options.ordered || key === undefined) {
      void this.runOnce(ch, msg, attempt, delivery, async (error) => {
        if (attempt >= max) await this.bus.deadLetter(this.queue, msg, attempt, error);
        else await this.bus.delay(this.queue, source, msg, attempt, this.options.retry);
      });
      return;
    }
    const next = (this.chains.get(key) ?? Promise.resolve()).then(() => this.runOrdered(ch, msg, attempt, delivery));
    this.chains.set(key, next);
    void next.finally(() => { if (this.chains.get(key) === next) this.chains.delete(key); });
  }

  /**
   * Retries of an ordered message happen here, with the message unacked, so no later message of its key can be
   * handled before it is settled. Only a crash or close interrupts; then the broker redelivers it first. Such a
   * redelivery counts the interrupted delivery as one lost run (x-delivery-count), however many in-place runs it had.
   */
  private async runOrdered(ch: Channel, msg: Message, first: number, delivery: (n: number) => Delivery): Promise<void> {
    for (let attempt = first; ; attempt++) {
      const outcome = await this.runOnce(ch, msg, attempt, delivery, async (error) => {
        if (attempt >= this.options.retry.maxAttempts) await this.bus.deadLetter(this.queue, msg, attempt, error);
        else return 'retry';
      });
      if (outcome !== 'retry') return;
      if (!(await this.sleep(retryDelay(this.options.retry, attempt))) || this.channel !== ch) return;
    }
  }

  /**
   * One handler run under a concurrency slot, then ack, or `onError` (republish somewhere, then ack). Returns
   * 'retry' if onError asks to keep the message unacked, 'skipped' if the subscription is going away.
   */
  private async runOnce(
    ch: Channel, msg: Message, attempt: number, delivery: (n: number) => Delivery,
    onError: (error: string) => Promise<void | 'retry'>,
  ): Promise<'done' | 'retry' | 'skipped'> {
    await this.slots.acquire();
    if (this.closing || this.channel !== ch) {
      this.slots.release();
      return 'skipped'; // left unacked: the broker redelivers it when the channel closes
    }
    this.inFlight++;
    try {
      const max = this.options.retry.maxAttempts;
      let outcome: Outcome;
      if (attempt > max) {
        outcome = { ok: false, error: 'attempts exhausted: earlier runs were lost to consumer crashes' };
      } else {
        try {
          await this.handler(delivery(attempt));
          outcome = { ok: true };
        } catch (err) {
          outcome = { ok: false, error: describe(err) };
        }
      }
      if (outcome.ok) {
        ack(ch, msg);
        return 'done';
      }
      const error = outcome.error;
      const verdict = await this.settle(ch, msg, () => onError(error));
      return verdict === 'retry' ? 'retry' : 'done';
    } finally {
      this.inFlight--;
      this.slots.release();
      if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  /** Acks only after the republish was confirmed; if it could not be, requeues so the broker counts the attempt. */
  private async settle<T>(ch: Channel, msg: Message, republish: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await republish();
      if (result !== 'retry') ack(ch, msg);
      return result;
    } catch (err) {
      this.bus.log('warn', 'RabbitMQ republish failed; requeueing', { queue: this.queue, id: msg.properties.messageId, error: describe(err) });
      try { ch.nack(msg, false, true); } catch { /* channel gone: requeued by the broker anyway */ }
      return undefined;
    }
  }

  private sleep(ms: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => { clearTimeout(timer); this.sleeps.delete(wake); resolve(false); };
      const timer = setTimeout(() => { this.sleeps.delete(wake); resolve(true); }, ms);
      this.sleeps.add(wake);
    });
  }
}

function ack(ch: Channel, msg: Message): void {
  try {
    ch.ack(msg);
  } catch {
    // The channel died with the message: the broker redelivers it, which at-least-once allows.
  }
}
