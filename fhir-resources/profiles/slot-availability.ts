import type { Slot } from '@medplum/fhirtypes';
import { SLOT_CAPACITY_EXTENSION, SLOT_REMAINING_EXTENSION } from './booking-vocabulary';

export interface SlotCounts {
  capacity: number;
  /** Places left to book. */
  available: number;
  /** 停诊: the period is closed, whatever the counts say. */
  stopped: boolean;
  /** Room or desk, for the comment people read. */
  room?: string;
}

/**
 * How a Slot carries the 号源 counts FHIR has no element for: `status` for searches (free while places remain, busy
 * when full, busy-unavailable when 停诊), the numbers in extensions for programs and in the comment for people.
 * The slot-sync mapping and $book / $cancel-booking write them the same way.
 */
export function slotAvailability(c: SlotCounts): Pick<Slot, 'status' | 'extension' | 'comment'> {
  const status: Slot['status'] = c.stopped ? 'busy-unavailable' : c.available > 0 ? 'free' : 'busy';
  const said = [c.room, `号源 ${c.capacity}`, `剩余 ${c.available}`, c.stopped ? '已停诊' : undefined].filter((s): s is string => Boolean(s));
  return {
    status,
    extension: [
      { url: SLOT_REMAINING_EXTENSION, valueInteger: c.available },
      { url: SLOT_CAPACITY_EXTENSION, valueInteger: c.capacity },
    ],
    comment: said.join('，'),
  };
}

/** Replaces the availability of a stored Slot, keeping its other extensions. */
export function withAvailability(slot: Slot, c: SlotCounts): Slot {
  const a = slotAvailability(c);
  const others = (slot.extension ?? []).filter((e) => e.url !== SLOT_REMAINING_EXTENSION && e.url !== SLOT_CAPACITY_EXTENSION);
  return { ...slot, status: a.status, comment: a.comment, extension: [...others, ...(a.extension ?? [])] };
}
