import { fhirTransaction } from '../adapters/fhir/fhir-transaction-destination';
import { medtechSlotSource } from '../adapters/medtech-booking/medtech-slot-source';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import { slotSnapshotToBundle } from '../mappings/medtech-booking/slot-snapshot';
import type { ChannelDeps } from './channel-deps';
import { jsonMapping } from './json-steps';
import { medtechPlatform } from './medtech-booking';

/**
 * The 医技预约 platform's 号源 pulled on a schedule (one node runs it) into Schedule (item × campus) and Slot (one per
 * 号源, status and places left), so patients can search free slots for what they paid for.
 */
export function medtechSlots({ hospital, fhir }: ChannelDeps): ChannelDefinition {
  return channel({
    id: 'medtech-slots',
    description: '医技预约平台 号源 → Schedule + Slot (scheduled pull)',
    source: medtechSlotSource(medtechPlatform(hospital), { cron: hospital.channels.medtechSlots.cron }),
    transformer: jsonMapping(slotSnapshotToBundle),
    destinations: [{ name: 'fhir-store', connector: fhirTransaction(fhir) }],
  });
}
