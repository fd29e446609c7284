import * as amqp from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, Options, RecoveringChannelModel } from 'amqplib';
import type { BusLogger } from './bus';
import { AMQP_SOCKET_OPTIONS, coalesceWrites } from './amqp-socket';

export interface OutgoingMessage {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

/** Runs after every (re)connect, before publishes are let through: re-declares topology, re-attaches consumers. */
export type ConnectHook = (model: ChannelModel) => Promise<void>;

/**
 * One AMQP connection with automatic recovery (amqplib's `recovery` option) and a confirm channel for publishing.
 * Channels do not survive a reconnect, so everything that lives on a channel registers a hook and rebuilds itself
 * from the fresh connection; the hooks run inside amqplib's `setup`, so a failing hook makes amqplib drop the
 * connection and retry with backoff instead of leaving a half-configured connection that looks healthy.
 */
export class AmqpConnection {
  private recovering: RecoveringChannelModel | null = null;
  private model: ChannelModel | null = null;
  private publisher: Promise<ConfirmChannel> | null = null;
  private topology: Promise<Channel> | null = null;
  private readonly hooks = new Set<ConnectHook>();
  private readonly waiters = new Set<() => void>();
  /** correlationIds of mandatory publishes the broker could not route; basic.return arrives before basic.ack. */
  private readonly returned = new Set<string>();
  private publishTag = 0;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly log: BusLogger,
    /** How long publish and admin calls wait for a connection before rejecting. */
    private readonly waitMs = 30_000,
  ) {}

  async open(): Promise<void> {
    this.recovering = await amqp.connect(this.url, {
      ...AMQP_SOCKET_OPTIONS,
      recovery: {
        initialDelay: 200,
        maxDelay: 5_000,
        // Fail start-up fast on a wrong URL, but never give up once we have been connected.
        initialMaxRetries: 5,
        maxRetries: Infinity,
        setup: (model: ChannelModel) => this.setup(model),
      },
    });
    this.recovering.on('disconnect', (err: Error) => this.log('warn', 'RabbitMQ connection lost; reconnecting', { error: err.message }));
    this.recovering.on('connect-failed', (err: Error) => this.log('warn', 'RabbitMQ connect failed', { error: err.message }));
    this.recovering.on('reconnect-failed', (err: Error) => this.log('error', 'RabbitMQ recovery gave up', { error: err.message }));
    this.recovering.on('error', (err: Error) => this.log('warn', 'RabbitMQ connection error', { error: err.message }));
  }

  addHook(hook: ConnectHook): void {
    this.hooks.add(hook);
  }

  removeHook(hook: ConnectHook): void {
    this.hooks.delete(hook);
  }

  /** The live connection, or null while reconnecting. */
  current(): ChannelModel | null {
    return this.model;
  }

  healthy(): boolean {
    return !this.closed && this.model !== null;
  }

  /** Waits (bounded) for a live connection, so callers ride out a broker restart instead of losing work. */
  whenConnected(): Promise<ChannelModel> {
    if (this.model) return Promise.resolve(this.model);
    if (this.closed) return Promise.reject(new Error('RabbitMQ bus is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`RabbitMQ not connected within ${this.waitMs / 1000} s`));
      }, this.waitMs);
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        if (this.model) resolve(this.model);
        else reject(new Error('RabbitMQ bus is closed'));
      };
      this.waiters.add(wake);
    });
  }

  /**
   * A shared channel for declarations and queue checks; recreated after a channel-level error closed it.
   * Hooks pass the connection being set up, which is not yet the current one.
   */
  async topologyChannel(setupModel?: ChannelModel): Promise<Channel> {
    const model = setupModel ?? (await this.whenConnected());
    if (!this.topology) {
      const p = model.createChannel().then((ch) => {
        ch.on('error', (err: Error) => this.log('warn', 'RabbitMQ topology channel error', { error: err.message }));
        ch.on('close', () => { if (this.topology === p) this.topology = null; });
        return ch;
      });
      this.topology = p;
      p.catch(() => { if (this.topology === p) this.topology = null; });
    }
    return this.topology;
  }

  /**
   * Publishes all messages pipelined on the confirm channel and resolves once the broker confirmed every one of
   * them. Any nack, unroutable return or channel loss rejects: a publish never resolves without a confirm.
   */
  async publish(messages: OutgoingMessage[]): Promise<void> {
    const ch = await this.publishChannel();
    const confirms: Promise<void>[] = [];
    let failure: unknown = null;
    try {
      for (const m of messages) {
        const tag = String(++this.publishTag);
        let accepted = true;
        confirms.push(new Promise<void>((resolve, reject) => {
          accepted = ch.publish(m.exchange, m.routingKey, m.content, { ...m.options, mandatory: m.options.mandatory ?? true, correlationId: tag }, (err) => {
            if (err) reject(err instanceof Error ? err : new Error(String(err)));
            else if (this.returned.delete(tag)) reject(new UnroutableError(m.routingKey));
            else resolve();
          });
        }));
        if (!accepted) await drained(ch);
      }
    } catch (err) {
      failure = err;
    }
    // Wait for every confirm even after a failure so that no rejection is left unobserved.
    const results = await Promise.allSettled(confirms);
    if (failure) throw failure;
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeWaiters();
    await this.recovering?.close().catch(() => undefined);
    this.model = null;
  }

  private async publishChannel(): Promise<ConfirmChannel> {
    const model = await this.whenConnected();
    if (!this.publisher) {
      const p = model.createConfirmChannel().then((ch) => {
        ch.on('error', (err: Error) => this.log('warn', 'RabbitMQ publish channel error', { error: err.message }));
        ch.on('close', () => { if (this.publisher === p) this.publisher = null; });
        ch.on('return', (msg: amqp.Message) => this.returned.add(String(msg.properties.correlationId)));
        return ch;
      });
      this.publisher = p;
      p.catch(() => { if (this.publisher === p) this.publisher = null; });
    }
    return this.publisher;
  }

  private async setup(model: ChannelModel): Promise<void> {
    coalesceWrites(model);
    model.on('error', (err: Error) => this.log('warn', 'RabbitMQ connection error', { error: err.message }));
    model.on('close', () => {
      if (this.model !== model) return;
      this.model = null;
      this.publisher = null;
      this.topology = null;
    });
    this.publisher = null;
    this.topology = null;
    for (const hook of [...this.hooks]) await hook(model);
    if (this.closed) return;
    this.model = model;
    this.log('info', 'RabbitMQ connected', {});
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

export class UnroutableError extends Error {
  constructor(routingKey: string) {
    super(`RabbitMQ could not route the message to "${routingKey}"`);
    this.name = 'UnroutableError';
  }
}

/** One shared wait per channel: many concurrent publishes hitting back-pressure must not each add listeners. */
const draining = new WeakMap<Channel, Promise<void>>();

function drained(ch: Channel): Promise<void> {
  let wait = draining.get(ch);
  if (!wait) {
    wait = new Promise<void>((resolve, reject) => {
      const onDrain = (): void => { ch.off('close', onClose); draining.delete(ch); resolve(); };
      const onClose = (): void => { ch.off('drain', onDrain); draining.delete(ch); reject(new Error('RabbitMQ channel closed while publishing')); };
      ch.once('drain', onDrain);
      ch.once('close', onClose);
    });
    draining.set(ch, wait);
  }
  return wait;
}

/** FNV-1a: stable across processes and versions, so every publisher routes a key to the same partition. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
