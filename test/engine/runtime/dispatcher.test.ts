import type { Bus, BusMessage } from '../../../engine/bus/bus';
import type { MessageStore } from '../../../engine/message-store/types';
import { ChannelStats } from '../../../engine/runtime/channel-stats';
import { Dispatcher, DispatchItem } from '../../../engine/runtime/dispatcher';

/** Only what the dispatcher touches: publish on the bus, markQueued in the store. */
function fakes(options: { publishFails?: boolean } = {}) {
  const published: BusMessage[] = [];
  const marked: string[][] = [];
  const bus = {
    publish: async (_queue: string, messages: BusMessage[]) => {
      if (options.publishFails) throw new Error('broker down');
      published.push(...messages);
    },
  } as unknown as Bus;
  const store = {
    markQueued: async (stages: { messageId: string; stage: string }[]) => {
      marked.push(stages.map((s) => `${s.messageId}/${s.stage}`));
    },
  } as unknown as MessageStore;
  const log = { warn: () => undefined };
  return { bus, store, log, published, marked };
}

function item(messageId: string, stage = 'out'): DispatchItem {
  return { queue: 'q', channelId: 'ch', messageId, stage, message: { id: `${messageId}/${stage}`, body: { messageId } } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Dispatcher', () => {
  test('publishes one event-loop turn together and marks queued only what the destination has not settled', async () => {
    const f = fakes();
    const d = new Dispatcher(f.bus, f.store, new ChannelStats(), f.log, { markDelayMs: 30 });
    d.dispatch([item('a')]);
    d.dispatch([item('b')]);
    d.dispatch([item('c')]);
    await sleep(5);
    expect(f.published.map((m) => m.id)).toEqual(['a/out', 'b/out', 'c/out']);
    expect(d.onBus('a', 'out')).toBe(true);

    d.settle('a', 'out'); // delivered and being recorded: its 'sent' supersedes 'queued'
    expect(d.onBus('a', 'out')).toBe(false);
    await sleep(80);
    expect(f.marked).toEqual([['b/out', 'c/out']]);
    expect(d.onBus('b', 'out')).toBe(false);
    await d.close();
  });

  test('a stage settled before its confirm arrived is not marked', async () => {
    const f = fakes();
    const d = new Dispatcher(f.bus, f.store, new ChannelStats(), f.log, { markDelayMs: 20 });
    d.settle('fast', 'out');
    d.dispatch([item('fast'), item('slow')]);
    await sleep(70);
    expect(f.marked.flat()).toEqual(['slow/out']);
    await d.close();
  });

  test('the sweep path marks at once, and close writes the marks still owed', async () => {
    const f = fakes();
    const d = new Dispatcher(f.bus, f.store, new ChannelStats(), f.log, { markDelayMs: 60_000 });
    await d.dispatchNow([item('recovered')]);
    expect(f.marked).toEqual([['recovered/out']]);
    d.dispatch([item('owed')]);
    await sleep(5);
    expect(d.onBus('owed', 'out')).toBe(true);
    await d.close();
    expect(f.marked).toEqual([['recovered/out'], ['owed/out']]);
  });

  test('a failed publish leaves the stage to the sweep: not on the bus, not marked', async () => {
    const f = fakes({ publishFails: true });
    const d = new Dispatcher(f.bus, f.store, new ChannelStats(), f.log, { markDelayMs: 10 });
    d.dispatch([item('lost')]);
    await sleep(40);
    expect(d.onBus('lost', 'out')).toBe(false);
    expect(f.marked).toEqual([]);
    await d.close();
  });
});
