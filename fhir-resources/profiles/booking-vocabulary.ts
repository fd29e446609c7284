import { identifierSystem, structureDefinition } from './lingshu-canonical';

/**
 * The names booking after payment shares (医技预约, issue 6): the slot-sync channel writes Schedule / Slot with them,
 * `$book` and `$cancel-booking` write Appointment with them, and front ends search by them.
 */
const sid = identifierSystem;
const extension = structureDefinition;

/** Slot.identifier: the 医技预约 platform's 号源 id. */
export const MEDTECH_SLOT_SYSTEM = sid('medtech-slot');
/** Schedule.identifier: `<itemCode>-<campus>`, one Schedule per exam item and campus. */
export const MEDTECH_SCHEDULE_SYSTEM = sid('medtech-schedule');
/** Appointment.identifier: the platform's booking id (预约号). */
export const MEDTECH_BOOKING_SYSTEM = sid('medtech-booking');
/** Location.identifier: the campus code the platform uses (TY 桃源院区, BY 北院院区, XH 星湖门诊). */
export const CAMPUS_SYSTEM = sid('campus');

/** On Slot: valueInteger, places left (剩余号源) as the platform last said; FHIR Slot has no count of its own. */
export const SLOT_REMAINING_EXTENSION = extension('slot-remaining');
/** On Slot: valueInteger, places in the period (号源总数). */
export const SLOT_CAPACITY_EXTENSION = extension('slot-capacity');
/** On Appointment: valueInteger, 排队号 within the slot, shown on the patient's booking slip. */
export const QUEUE_NUMBER_EXTENSION = extension('queue-number');

/** Appointment.cancelationReason codes (R4 value set appointment-cancellation-reason). */
export const CANCELLATION_REASON_SYSTEM = 'http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason';
