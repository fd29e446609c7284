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

/**
 * Hands stored destination stages to the bus. The sender was already acknowledged once the message was stored, so a
 * publish that fails (broker down) is not an error for anyone: the stage stays 'pending' in the store and the sweep
 * hands it over again later. Publishes of one event-loop turn go out together, one confirm round-trip per queue.
 */
export class Dispatcher {
  private pending = new Map<string, DispatchItem[]>();
  private scheduled = false;

  constructor(private readonly bus: Bus, private readonly store: MessageStore, private readonly stats: ChannelStats, private readonly log: Log) {}

  dispatch(items: DispatchItem[]): void {
    groupByQueue(items, this.pending);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Publishes now and resolves when done; used by the sweep, which must not overlap with itself. */
  async dispatchNow(items: DispatchItem[]): Promise<void> {
    await Promise.all([...groupByQueue(items)].map(([queue, list]) => this.publish(queue, list)));
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [queue, items] of batches) void this.publish(queue, items);
  }

  private async publish(queue: string, items: DispatchItem[]): Promise<void> {
    try {
      await this.bus.publish(queue, items.map((i) => i.message));
    } catch (err) {
      this.log.warn('bus publish failed; stages stay pending for the sweep', { queue, count: items.length, error: (err as Error).message });
      return;
    }
    try {
      await this.store.markQueued(items.map((i) => ({ messageId: i.messageId, stage: i.stage })));
      for (const i of items) this.stats.count(i.channelId, 'queued');
    } catch (err) {
      // The bus has them; the sweep will publish them again flagged as recovered, and the consumer de-duplicates.
      this.log.warn('could not mark stages queued', { queue, count: items.length, error: (err as Error).message });
    }
  }
}

function groupByQueue(items: DispatchItem[], into = new Map<string, DispatchItem[]>()): Map<string, DispatchItem[]> {
  for (const item of items) {
    const list = into.get(item.queue);
    if (list) list.push(item);
    else into.set(item.queue, [item]);
  }
  return into;
}
