import { createHash } from 'node:crypto';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import type { MedtechBookingPlatform, PlatformItem, PlatformSlot } from './medtech-booking-api';

/** One message of the slot-sync channel: the 号源 of one exam item at one campus, as the platform listed them. */
export interface SlotSnapshot {
  item: PlatformItem;
  campus: string;
  campusName?: string;
  slots: PlatformSlot[];
}

export interface MedtechSlotSourceOptions {
  /** croner pattern; six fields = seconds. */
  cron: string;
  /** An unchanged snapshot is handed in again after this long anyway, in case its earlier write failed. */
  resendUnchangedAfterMs?: number;
}

/**
 * Pulls the platform's 号源 on a schedule (one node at a time: the engine's scheduler holds the lease) and hands the
 * channel one snapshot per item × campus. A snapshot identical to the last one handed in is skipped, so a quiet
 * platform does not fill the message store with copies; the platform's booking counts change what a snapshot holds.
 */
export function medtechSlotSource(platform: () => MedtechBookingPlatform, options: MedtechSlotSourceOptions): SourceConnector {
  const resendAfter = options.resendUnchangedAfterMs ?? 3600_000;
  const lastHanded = new Map<string, { hash: string; at: number }>();
  let pulling: Promise<unknown> | undefined;
  return {
    type: 'medtech-slots',
    async start(ctx: SourceContext) {
      const log = childLogger({ component: 'medtech-slot-source', channel: ctx.channelId });
      ctx.schedule(options.cron, async () => {
        const run = pull(platform(), ctx, lastHanded, resendAfter);
        pulling = run;
        try {
          const result = await run;
          if (result.accepted) log.info('号源 snapshots handed in', result);
        } finally {
          pulling = undefined;
        }
      });
    },
    async stop() {
      // A stopped channel calls the platform no more: the pull under way (its schedule is already gone) ends first.
      await pulling?.catch(() => undefined);
      lastHanded.clear();
    },
  };
}

async function pull(platform: MedtechBookingPlatform, ctx: SourceContext, lastHanded: Map<string, { hash: string; at: number }>, resendAfter: number): Promise<{ snapshots: number; accepted: number }> {
  const items = await platform.items();
  let snapshots = 0;
  let accepted = 0;
  for (const item of items) {
    const byCampus = new Map<string, PlatformSlot[]>();
    for (const slot of await platform.slots({ itemCode: item.code })) {
      byCampus.set(slot.campus, [...(byCampus.get(slot.campus) ?? []), slot]);
    }
    for (const [campus, slots] of byCampus) {
      snapshots++;
      const snapshot: SlotSnapshot = { item, campus, campusName: slots[0]?.campusName, slots: [...slots].sort((a, b) => a.id.localeCompare(b.id)) };
      const content = JSON.stringify(snapshot);
      const key = `${item.code}-${campus}`;
      const hash = createHash('sha256').update(content).digest('hex');
      const last = lastHanded.get(key);
      if (last && last.hash === hash && Date.now() - last.at < resendAfter) continue;
      await ctx.accept({ content, contentType: 'application/json', encoding: 'utf-8' });
      lastHanded.set(key, { hash, at: Date.now() });
      accepted++;
    }
  }
  return { snapshots, accepted };
}
