import type { Bundle, BundleEntry, CodeableConcept, Location, OperationOutcome, Schedule, Slot } from '@medplum/fhirtypes';
import { z } from 'zod';
import { platformItemSchema, platformSlotSchema, type PlatformSlot } from '../../adapters/medtech-booking/medtech-booking-api';
import { CHARGE_CODE_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { CAMPUS_SYSTEM, MEDTECH_SCHEDULE_SYSTEM, MEDTECH_SLOT_SYSTEM } from '../../fhir-resources/profiles/booking-vocabulary';
import { slotAvailability } from '../../fhir-resources/profiles/slot-availability';
import { conditionalCreate, conditionalUpdate, entryFullUrl, identifierToken } from '../hl7v3/transaction-entries';
import { zodOutcome } from './zod-outcome';

const snapshotSchema = z.object({
  item: platformItemSchema,
  campus: z.string().min(1),
  campusName: z.string().optional(),
  slots: z.array(platformSlotSchema),
});

/** China time as the platform writes it (yyyy-MM-dd, HH:mm) → FHIR instant with the +08:00 offset. */
export function chinaInstant(date: string, time: string): string {
  return `${date}T${time}:00+08:00`;
}

/** The exam item as Schedule / Slot / Appointment carry it: the HIS 收费项目 code the platform files 号源 under. */
export function examItemConcept(code: string, name?: string): CodeableConcept {
  return { coding: [{ system: CHARGE_CODE_SYSTEM, code, ...(name ? { display: name } : {}) }], ...(name ? { text: name } : {}) };
}

/** The FHIR Slot for one platform 号源, its schedule given as a reference. */
export function medtechSlot(s: PlatformSlot, schedule: string, itemName?: string): Slot {
  return {
    resourceType: 'Slot',
    identifier: [{ system: MEDTECH_SLOT_SYSTEM, value: s.id }],
    serviceType: [examItemConcept(s.itemCode, s.itemName ?? itemName)],
    schedule: { reference: schedule },
    ...slotAvailability({ capacity: s.capacity, available: s.available, stopped: s.status === 'stopped', room: s.room }),
    start: chinaInstant(s.date, s.start),
    end: chinaInstant(s.date, s.end),
  } as Slot;
}

/**
 * One slot-sync snapshot (the 号源 of one exam item at one campus) → a transaction: the campus as a Location and the
 * item × campus as a Schedule, created when absent; every slot as a Slot keyed by the platform's 号源 id, updated
 * in place so its status and counts follow the platform. Patients then search
 * `Slot?service-type=<收费项目>&schedule.actor=Location/…&status=free&start=ge…`.
 */
export function slotSnapshotToBundle(content: string): Bundle | OperationOutcome {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    return zodOutcome([{ path: [], message: `not JSON: ${(err as Error).message}` }]);
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) return zodOutcome(parsed.error.issues);
  const { item, campus, campusName, slots } = parsed.data;
  const strays = slots.filter((s) => s.itemCode !== item.code || s.campus !== campus);
  if (strays.length) return zodOutcome([{ path: ['slots'], message: `号源 ${strays.map((s) => s.id).join(', ')} are not of item ${item.code} at campus ${campus}` }]);

  const locationSearch = `identifier=${identifierToken(CAMPUS_SYSTEM, campus)}`;
  const location: Location = { resourceType: 'Location', identifier: [{ system: CAMPUS_SYSTEM, value: campus }], status: 'active', name: campusName ?? campus, mode: 'instance' };
  const scheduleKey = `${item.code}-${campus}`;
  const scheduleSearch = `identifier=${identifierToken(MEDTECH_SCHEDULE_SYSTEM, scheduleKey)}`;
  const schedule: Schedule = {
    resourceType: 'Schedule',
    identifier: [{ system: MEDTECH_SCHEDULE_SYSTEM, value: scheduleKey }],
    active: true,
    serviceType: [examItemConcept(item.code, item.name)],
    actor: [{ reference: entryFullUrl(`Location?${locationSearch}`), display: campusName ?? campus }],
    comment: [item.department, item.name, campusName].filter(Boolean).join(' '),
  };
  const entries: BundleEntry[] = [
    conditionalCreate(location, locationSearch),
    conditionalCreate(schedule, scheduleSearch),
    ...slots.map((s) => conditionalUpdate(medtechSlot(s, entryFullUrl(`Schedule?${scheduleSearch}`), item.name), `identifier=${identifierToken(MEDTECH_SLOT_SYSTEM, s.id)}`)),
  ];
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}
