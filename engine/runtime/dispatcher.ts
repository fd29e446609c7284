import type { Bus, BusMessage } from '../bus/bus';
import type { MessageStore } from '../message-store/types';
import type { ChannelStats } from './channel-stats';

export interface DispatchItem {
  queue: string;
  channelId: string;
  messageId: string;
  stage: string;
  message: BusMessage;
}

interface Log {
  warn(msg: string, meta?: object): void;
}

export interface DispatcherOptions {
  /**
   * How long a confirmed stage may stay 'pending' in the store before it is marked 'queued'. Must stay well below
   * the sweep's minimum age; the sweep also skips stages this dispatcher knows to be on the bus.
   */
  markDelayMs?: number;
}

interface Unmarked {
  messageId: string;
  stage: string;
  at: number;
}

/**
 * Hands stored destination stages to the bus. The sender was already acknowledged once the message was stored, so a
 * publish that fails (broker down) is not an error for anyone: the stage stays 'pending' in the store and the sweep
 * hands it over again later. Publishes of one event-loop turn go out together, one confirm round-trip per queue.
 *
 * pending → queued is written lazily: most stages are delivered within milliseconds, and their 'sent' update makes
 * the 'queued' one moot, so writing it would rewrite every stage row once more for nothing. A stage the destination
 * has not settled within markDelayMs is marked then. A crash before that leaves it 'pending', which is the same as a
 * crash between confirm and mark always was: the start-up sweep re-publishes it flagged as recovered, and the
 * consumer checks the store before sending.
 */
export class Dispatcher {
  private pending = new Map<string, DispatchItem[]>();
  private scheduled = false;
  private readonly unmarked = new Map<string, Unmarked>();
  /** Settled before their confirm arrived (a fast consumer): nothing to mark. Two generations, swapped per flush. */
  private settled = new Set<string>();
  private settledBefore = new Set<string>();
  private settledSince = Date.now();
  private markTimer?: NodeJS.Timeout;
  private marking?: Promise<void>;
  private readonly markDelayMs: number;

  constructor(private readonly bus: Bus, private readonly store: MessageStore, private readonly stats: ChannelStats, private readonly log: Log, options: DispatcherOptions = {}) {
    this.markDelayMs = options.markDelayMs ?? 250;
  }

  dispatch(items: DispatchItem[]): void {
    groupByQueue(items, this.pending);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Publishes now and resolves when done, marks written; used by the sweep, which must not overlap with itself and
   * reads the next page of pending stages only once these are no longer pending.
   */
  async dispatchNow(items: DispatchItem[]): Promise<void> {
    await Promise.all([...groupByQueue(items)].map(([queue, list]) => this.publish(queue, list, false)));
  }

  /** The destination is recording the stage's outcome, which supersedes the 'queued' mark. */
  settle(messageId: string, stage: string): void {
    const key = stageKey(messageId, stage);
    if (this.unmarked.delete(key)) return;
    // Retries and other nodes' messages settle without a confirm of ours: forget them after a while.
    if (Date.now() - this.settledSince > 4 * this.markDelayMs) this.rotateSettled();
    this.settled.add(key);
  }

  /** True while the stage is confirmed on the bus but not yet marked: the sweep must not publish it again. */
  onBus(messageId: string, stage: string): boolean {
    return this.unmarked.has(stageKey(messageId, stage));
  }

  /** Writes the marks still owed (shutdown). */
  async close(): Promise<void> {
    if (this.markTimer) clearTimeout(this.markTimer);
    this.markTimer = undefined;
    await this.marking;
    await this.writeMarks(Infinity);
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [queue, items] of batches) void this.publish(queue, items);
  }

  private async publish(queue: string, items: DispatchItem[], lazy = true): Promise<void> {
    try {
      await this.bus.publish(queue, items.map((i) => i.message));
    } catch (err) {
      this.log.warn('bus publish failed; stages stay pending for the sweep', { queue, count: items.length, error: (err as Error).message });
      return;
    }
    if (!lazy) {
      for (const i of items) {
        this.stats.count(i.channelId, 'queued');
        this.unmarked.delete(stageKey(i.messageId, i.stage));
      }
      await this.mark(items);
      return;
    }
    const now = Date.now();
    for (const i of items) {
      this.stats.count(i.channelId, 'queued');
      const key = stageKey(i.messageId, i.stage);
      if (this.settled.delete(key) || this.settledBefore.delete(key)) continue;
      this.unmarked.delete(key); // a re-publish moves to the end, keeping the map in confirm order
      this.unmarked.set(key, { messageId: i.messageId, stage: i.stage, at: now });
    }
    this.scheduleMarks();
  }

  private scheduleMarks(): void {
    if (this.markTimer || this.marking || !this.unmarked.size) return;
    this.markTimer = setTimeout(() => {
      this.markTimer = undefined;
      this.marking = this.writeMarks(Date.now() - this.markDelayMs).finally(() => {
        this.marking = undefined;
        this.scheduleMarks();
      });
    }, this.markDelayMs);
    this.markTimer.unref();
  }

  private async writeMarks(confirmedBefore: number): Promise<void> {
    this.rotateSettled();
    const due: Unmarked[] = [];
    // Map order is confirm order, so the due ones are a prefix.
    for (const [key, u] of this.unmarked) {
      if (u.at > confirmedBefore) break;
      due.push(u);
      this.unmarked.delete(key);
    }
    await this.mark(due);
  }

  private async mark(stages: { messageId: string; stage: string }[]): Promise<void> {
    if (!stages.length) return;
    try {
      await this.store.markQueued(stages.map((u) => ({ messageId: u.messageId, stage: u.stage })));
    } catch (err) {
      // The bus has them; the sweep will publish them again flagged as recovered, and the consumer de-duplicates.
      this.log.warn('could not mark stages queued', { count: stages.length, error: (err as Error).message });
    }
  }

  private rotateSettled(): void {
    this.settledBefore = this.settled;
    this.settled = new Set();
    this.settledSince = Date.now();
  }
}

function stageKey(messageId: string, stage: string): string {
  return `${messageId}\u0000${stage}`;
}

function groupByQueue(items: DispatchItem[], into = new Map<string, DispatchItem[]>()): Map<string, DispatchItem[]> {
  for (const item of items) {
    const list = into.get(item.queue);
    if (list) list.push(item);
    else into.set(item.queue, [item]);
  }
  return into;
}
