import express, { Router, RequestHandler } from 'express';
import { v7 as uuidv7 } from 'uuid';
import type { Bus, Subscription } from '../bus/bus';
import type { QueuePolicy } from '../config/config';
import {
  AcceptResult, ChannelDefinition, ChannelMessage, InboundMessage, SourceContext, validateChannel,
} from '../channel/channel';
import type { MessageStatus, MessageStore, NewMessage, StageRecord } from '../message-store/types';
import { ChannelStats } from './channel-stats';
import { Dispatcher, DispatchItem } from './dispatcher';
import { DestinationEnvelope, destinationHandler } from './destination-worker';

export type ChannelState = 'started' | 'paused' | 'stopped';

export interface Scheduling {
  schedule(name: string, cron: string, job: () => Promise<void>, options?: { leaseMs?: number }): void;
  unschedule(name: string): void;
}

interface Log {
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

export interface EngineOptions {
  store: MessageStore;
  bus: Bus;
  scheduler: Scheduling;
  log: Log;
  defaultQueue: QueuePolicy;
  /** Prefix of bus queue names, so that two engines (or two test runs) on one broker never share queues. */
  queuePrefix?: string;
  dispatchSweepMs?: number;
  /**
   * What this node does with its channels: `ingest` starts their sources (listeners, pollers) and stores and
   * dispatches what arrives; `deliver` consumes their destination queues. Default both. Nodes sharing a database and
   * a RabbitMQ broker can split them, so that senders' acknowledgements never wait behind destination work (FHIR
   * writes) on the same JavaScript thread.
   */
  roles?: readonly EngineRole[];
}

export type EngineRole = 'ingest' | 'deliver';

interface Deployed {
  def: ChannelDefinition;
  state: ChannelState;
  router: Router;
  subscriptions: Subscription[];
  scheduled: string[];
  deployedAt: number;
}

export class EngineError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_ERROR = 64 * 1024;

/**
 * The channel runtime: a message is filtered and transformed as it arrives (pure functions, no I/O), stored with one
 * stage per destination in a single group-committed write, acknowledged, and then handed to the bus, one queue per
 * destination. Destinations are independent: one failing never holds another back.
 */
export class Engine {
  readonly stats = new ChannelStats();
  private readonly channels = new Map<string, Deployed>();
  private readonly dispatcher: Dispatcher;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;

  private readonly ingest: boolean;
  private readonly deliver: boolean;

  constructor(private readonly options: EngineOptions) {
    const roles = options.roles ?? ['ingest', 'deliver'];
    this.ingest = roles.includes('ingest');
    this.deliver = roles.includes('deliver');
    // A quarter of the sweep's minimum age: a stage is marked 'queued' long before the sweep could take it for lost.
    const markDelayMs = Math.min(250, (options.dispatchSweepMs ?? 5000) / 4);
    this.dispatcher = new Dispatcher(options.bus, options.store, this.stats, options.log, { markDelayMs });
  }

  async start(): Promise<void> {
    const every = this.options.dispatchSweepMs ?? 5000;
    this.sweepTimer = setInterval(() => void this.sweep(every), every);
    this.sweepTimer.unref();
  }

  /**
   * At start-up nothing can be in flight yet, so every pending stage is one that a crash or an outage left behind:
   * hand them all over now instead of waiting for the periodic sweep. Call after the channels are deployed.
   */
  async recover(): Promise<void> {
    // A delivering node that starts beside running ingest nodes would take their stages in flight for lost.
    if (this.ingest) await this.sweep(0);
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const id of [...this.channels.keys()]) await this.undeploy(id);
    await this.dispatcher.close();
  }

  /** This node's share of the work (EngineOptions.roles). */
  get roles(): EngineRole[] {
    return [...(this.ingest ? ['ingest' as const] : []), ...(this.deliver ? ['deliver' as const] : [])];
  }

  queueName(channelId: string, destination: string): string {
    return `${this.options.queuePrefix ?? 'lingshu'}.ch.${channelId}.${destination}`;
  }

  /** Deploys or hot-redeploys one channel; the others are not touched. Throws ChannelDefinitionError when invalid. */
  async deploy(def: ChannelDefinition): Promise<void> {
    validateChannel(def);
    if (this.channels.has(def.id)) await this.undeploy(def.id);
    const deployed: Deployed = { def, state: 'stopped', router: express.Router(), subscriptions: [], scheduled: [], deployedAt: Date.now() };
    this.channels.set(def.id, deployed);
    try {
      for (const dest of this.deliver ? def.destinations : []) {
        await dest.connector.start?.();
        const policy = { ...this.options.defaultQueue, ...dest.queue };
        const sub = await this.options.bus.subscribe(this.queueName(def.id, dest.name), destinationHandler(dest, this.options.store, this.stats, this.options.log, (m, s) => this.dispatcher.settle(m, s)), {
          concurrency: policy.concurrency,
          ordered: Boolean(dest.orderBy),
          retry: policy,
        });
        deployed.subscriptions.push(sub);
      }
      if (this.ingest) await def.source.start(this.sourceContext(deployed));
      deployed.state = 'started';
      this.options.log.info('channel deployed', { channel: def.id, origin: def.origin });
    } catch (err) {
      await this.undeploy(def.id).catch(() => undefined);
      throw err;
    }
  }

  async undeploy(id: string): Promise<void> {
    const d = this.channels.get(id);
    if (!d) throw new EngineError(404, `channel ${id} is not deployed`);
    this.channels.delete(id);
    d.state = 'stopped';
    for (const name of d.scheduled) this.options.scheduler.unschedule(name);
    if (this.ingest) await d.def.source.stop().catch((err) => this.options.log.warn('source stop failed', { channel: id, error: (err as Error).message }));
    for (const sub of d.subscriptions) await sub.close();
    for (const dest of this.deliver ? d.def.destinations : []) await dest.connector.stop?.().catch(() => undefined);
    this.options.log.info('channel undeployed', { channel: id });
  }

  /** Stops taking new messages; queued ones keep being delivered. */
  pause(id: string): void {
    this.get(id).state = 'paused';
    this.options.log.info('channel paused', { channel: id });
  }

  resume(id: string): void {
    this.get(id).state = 'started';
    this.options.log.info('channel resumed', { channel: id });
  }

  list(): { id: string; description?: string; state: ChannelState; origin?: string; deployedAt: number; source: string; destinations: { name: string; type: string; queue: string }[] }[] {
    return [...this.channels.values()].map((d) => ({
      id: d.def.id,
      description: d.def.description,
      state: d.state,
      origin: d.def.origin,
      deployedAt: d.deployedAt,
      source: d.def.source.type,
      destinations: d.def.destinations.map((x) => ({ name: x.name, type: x.connector.type, queue: this.queueName(d.def.id, x.name) })),
    }));
  }

  has(id: string): boolean {
    return this.channels.has(id);
  }

  definitions(): ChannelDefinition[] {
    return [...this.channels.values()].map((d) => d.def);
  }

  /** Express handler for /channels/:channelId/* — each HTTP source mounts its own router. */
  inboundHandler(): RequestHandler {
    return (req, res, next) => {
      const d = this.channels.get(String(req.params.channelId));
      if (!d) {
        res.status(404).json({ error: `没有名为 ${req.params.channelId} 的通道 (no such channel)` });
        return;
      }
      if (!this.ingest) {
        res.status(503).json({ error: `本节点只投递消息，不接收 (this node's engine.roles has no ingest; send to an ingest node)` });
        return;
      }
      d.router(req, res, next);
    };
  }

  async accept(channelId: string, inbound: InboundMessage, only?: { destinations?: string[]; reprocessedFrom?: string }): Promise<AcceptResult> {
    const d = this.get(channelId);
    const def = d.def;
    const id = uuidv7();
    const now = Date.now();
    const correlationId = inbound.correlationId || id;
    const msg: ChannelMessage = { id, channelId, correlationId, content: inbound.content, contentType: inbound.contentType };
    const stages: StageRecord[] = [{ name: 'source', kind: 'source', status: 'received', attempts: 1, updatedAt: now }];
    let status: MessageStatus;
    let output: string | undefined;
    let transformed: unknown;
    try {
      const rejectedBy = (def.filters ?? []).find((f) => !f.accept(msg));
      if (rejectedBy) {
        stages[0].status = 'filtered';
        stages[0].response = `filtered by ${rejectedBy.name}`;
        status = 'filtered';
      } else {
        const out = def.transformer ? def.transformer(msg) : msg.content;
        output = typeof out === 'string' ? out : JSON.stringify(out);
        transformed = out;
        status = 'queued';
      }
    } catch (err) {
      stages.push({ name: 'transformer', kind: 'transformer', status: 'error', error: String((err as Error)?.message ?? err).slice(0, MAX_ERROR), attempts: 1, updatedAt: now });
      status = 'error';
    }
    const targets = output === undefined ? [] : def.destinations.filter((x) => !only?.destinations || only.destinations.includes(x.name));
    for (const dest of targets) stages.push({ name: dest.name, kind: 'destination', status: 'pending', content: output, attempts: 0, updatedAt: now });
    const record: NewMessage = {
      id, channelId, correlationId, status, contentType: inbound.contentType, encoding: inbound.encoding ?? 'utf-8',
      raw: inbound.content, receivedAt: now, reprocessedFrom: only?.reprocessedFrom ?? null, stages,
    };
    await this.options.store.insert(record);
    this.stats.count(channelId, 'received');
    if (status === 'filtered') this.stats.count(channelId, 'filtered');
    if (status === 'error') this.stats.count(channelId, 'errored');
    if (targets.length) {
      this.dispatcher.dispatch(targets.map((dest) => this.dispatchItem(def, dest.name, { messageId: id, channelId, destination: dest.name, correlationId, content: output!, receivedAt: now, destinations: targets.length }, false, transformed)));
    }
    return { messageId: id, correlationId, status };
  }

  /** Sends a stored message through its channel again (all or some destinations), as a new message linked to it. */
  async reprocess(messageId: string, destinations?: string[]): Promise<AcceptResult> {
    const original = await this.options.store.get(messageId);
    if (!original) throw new EngineError(404, `message ${messageId} not found`);
    if (original.contentPruned) throw new EngineError(409, `message ${messageId}: content was pruned by the retention policy; it cannot be reprocessed`);
    const d = this.channels.get(original.channelId);
    if (!d) throw new EngineError(409, `channel ${original.channelId} is not deployed`);
    const known = d.def.destinations.map((x) => x.name);
    const unknown = (destinations ?? []).filter((n) => !known.includes(n));
    if (unknown.length) throw new EngineError(400, `unknown destination(s) ${unknown.join(', ')}; channel ${d.def.id} has ${known.join(', ')}`);
    const result = await this.accept(original.channelId, {
      content: original.raw, contentType: original.contentType, encoding: original.encoding, correlationId: original.correlationId,
    }, { destinations, reprocessedFrom: messageId });
    for (const name of destinations ?? known) {
      await this.options.bus.dropDeadLetter(this.queueName(original.channelId, name), `${messageId}/${name}`).catch(() => undefined);
    }
    return result;
  }

  private dispatchItem(def: ChannelDefinition, destination: string, env: DestinationEnvelope, recovered: boolean, transformed?: unknown): DispatchItem {
    const dest = def.destinations.find((x) => x.name === destination)!;
    const key = dest.orderBy?.({ ...env, attempt: 1, transformed });
    return {
      queue: this.queueName(def.id, destination),
      channelId: def.id,
      messageId: env.messageId,
      stage: destination,
      message: { id: `${env.messageId}/${destination}`, body: env, key, headers: recovered ? { recovered: true } : undefined },
    };
  }

  /** Stages stored but never confirmed on the bus (broker down, crash after commit) are handed over again. */
  private async sweep(minAgeMs: number): Promise<void> {
    if (this.sweeping || !this.options.bus.healthy()) return;
    this.sweeping = true;
    try {
      for (;;) {
        const pending = await this.options.store.pendingStages(1000, Date.now() - minAgeMs);
        const items = pending.flatMap((p) => {
          const d = this.channels.get(p.channelId);
          if (!d || !d.def.destinations.some((x) => x.name === p.stage) || this.dispatcher.onBus(p.messageId, p.stage)) return [];
          return [this.dispatchItem(d.def, p.stage, { messageId: p.messageId, channelId: p.channelId, destination: p.stage, correlationId: p.correlationId, content: p.content ?? '', receivedAt: p.receivedAt }, true)];
        });
        if (!items.length) return;
        await this.dispatcher.dispatchNow(items);
        if (pending.length < 1000) return;
      }
    } catch (err) {
      this.options.log.warn('dispatch sweep failed', { error: (err as Error).message });
    } finally {
      this.sweeping = false;
    }
  }

  private get(id: string): Deployed {
    const d = this.channels.get(id);
    if (!d) throw new EngineError(404, `channel ${id} is not deployed`);
    return d;
  }

  private sourceContext(d: Deployed): SourceContext {
    const id = d.def.id;
    return {
      channelId: id,
      accept: (m) => this.accept(id, m),
      accepting: () => d.state === 'started' && this.channels.get(id) === d,
      httpRouter: () => d.router,
      schedule: (cron, job, options) => {
        const name = `channel:${id}:${d.scheduled.length}`;
        d.scheduled.push(name);
        this.options.scheduler.schedule(name, cron, async () => {
          if (d.state === 'started') await job();
        }, options?.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {});
      },
    };
  }
}
