import type { DestinationDefinition } from '../../../engine/channel/channel';
import type { MessageStore, StageUpdate } from '../../../engine/message-store/types';
import { ChannelStats } from '../../../engine/runtime/channel-stats';
import { DestinationEnvelope, destinationHandler } from '../../../engine/runtime/destination-worker';

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Only what the handler calls on the happy and failing paths; the store's own behaviour has its suites. */
function recordingStore(updates: StageUpdate[]): MessageStore {
  return {
    updateStage: async (u: StageUpdate) => void updates.push(u),
    recordAttemptError: async () => undefined,
    stageStatus: async () => undefined,
  } as unknown as MessageStore;
}

describe('destination handler', () => {
  const envelope = (destinations?: number): DestinationEnvelope => ({
    messageId: 'm1', channelId: 'ch', destination: 'peer', correlationId: 'c1', content: 'MSH|^~\\&|', receivedAt: Date.now(), destinations,
  });
  const delivery = (body: DestinationEnvelope, lastAttempt = false) => ({ id: 'm1/peer', body, attempt: 1, redelivered: false, lastAttempt });

  it('tells the store when the stage is the message\'s only destination, so its status follows without an aggregate', async () => {
    const updates: StageUpdate[] = [];
    let fail = false;
    const dest: DestinationDefinition = {
      name: 'peer',
      connector: { type: 'test', send: async () => { if (fail) throw new Error('peer refused'); return { response: 'AA' }; } },
    };
    const handle = destinationHandler(dest, recordingStore(updates), new ChannelStats(), log);
    await handle(delivery(envelope(1)));
    await handle(delivery(envelope(2)));
    // An envelope published before the count existed, or re-published by the sweep, does not claim it.
    await handle(delivery(envelope(undefined)));
    fail = true;
    await expect(handle(delivery(envelope(1), true))).rejects.toThrow('peer refused');
    expect(updates.map((u) => [u.status, u.soleDestination])).toEqual([['sent', true], ['sent', false], ['sent', false], ['error', true]]);
  });
});
