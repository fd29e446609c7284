import type { Appointment, AppointmentParticipant, Bundle, Identifier, OperationOutcome, Reference, Schedule, Slot } from '@medplum/fhirtypes';

type Actor = NonNullable<AppointmentParticipant['actor']>;
import { codeableConcept, practitionerReference } from './hl7-datatypes';
import { addMinutes, fhirDateTime } from './hl7-datetime';
import { authoritySystem, eiIdentifier } from './hl7-identifiers';
import type { Hl7Message, Hl7Segment } from './hl7-message';
import type { Hl7v2Context } from './mapping-context';
import { MappingProblem, outcomeOnProblem } from './mapping-problem';
import { openMessage, requiredSegment, segmentsNamed, type OpenedMessage } from './message-header';
import { patientFromPid } from './patient';

/** S12 booked, S13 rescheduled, S14 modified, S15 cancelled (HL7 v2.5 §10.4). */
export const SIU_EVENTS = ['S12', 'S13', 'S14', 'S15'] as const;

/** SCH-25 filler status (table 0278) → Appointment.status. */
const FILLER_STATUS: Readonly<Record<string, Appointment['status']>> = {
  BOOKED: 'booked', PENDING: 'pending', WAITLIST: 'waitlist', CANCELLED: 'cancelled', DELETED: 'cancelled', COMPLETE: 'fulfilled', NOSHOW: 'noshow', STARTED: 'arrived', OVERBOOK: 'booked', BLOCKED: 'booked',
};

/**
 * SIU (医技预约 bookings) → Appointment, the Slot it takes and the Schedule of the booked resource. The Slot is keyed
 * on schedule and start time, so a cancellation (S15) frees the very slot the booking took. A reschedule (S13) names
 * only the new time: the old slot is left to the 医技预约 platform's own slot feed to free.
 */
export function siuToBundle(message: Hl7Message, context: Hl7v2Context = {}): Bundle | OperationOutcome {
  return outcomeOnProblem(() => {
    const opened = openMessage(message, context, { SIU: SIU_EVENTS });
    const sch = requiredSegment(message, 'SCH', 'SIU carries the appointment in SCH');
    const { patient, key: patientKey } = patientFromPid(requiredSegment(message, 'PID', 'a booking is for a patient'), opened.ctx);
    const patientUrl = opened.bundle.createIfAbsent(patient, patientKey);
    const key = eiIdentifier(sch.first(2), opened.ctx, 'FILL') ?? eiIdentifier(sch.first(1), opened.ctx, 'PLAC');
    if (!key) throw new MappingProblem('required', sch.where(2), `${sch.where(2)} (filler appointment id) and SCH-1 are empty: the booking cannot be found again`);
    const cancelled = opened.event === 'S15';
    const status = cancelled ? 'cancelled' : FILLER_STATUS[sch.get(25, 1).toUpperCase()] ?? 'booked';
    const { start, end, minutes } = timing(message, sch, opened);
    const resources = bookedResources(message, opened);
    const slotRefs: Reference<Slot>[] = [];
    if (start && end && resources.length > 0) {
      const { scheduleKey, schedule } = resources[0];
      const scheduleUrl = opened.bundle.createIfAbsent(schedule, scheduleKey);
      const slotKey: Identifier = { system: scheduleKey.system, value: `${scheduleKey.value}@${start}` };
      const slot: Slot = {
        resourceType: 'Slot',
        identifier: [slotKey],
        schedule: { reference: scheduleUrl },
        // Cancelled frees the slot; anything else holds it.
        status: status === 'cancelled' || status === 'noshow' ? 'free' : 'busy',
        start,
        end,
      };
      slotRefs.push({ reference: opened.bundle.put(slot, slotKey) });
    }
    const placerOrder = eiIdentifier(sch.first(26), opened.ctx, 'PLAC');
    const serviceType = segmentsNamed(message, 'AIS').map((ais) => codeableConcept(ais.first(3), opened.sendingApplication)).filter((c) => c !== undefined);
    const reason = codeableConcept(sch.first(6), opened.sendingApplication) ?? codeableConcept(sch.first(7), opened.sendingApplication);
    const appointmentType = codeableConcept(sch.first(8), opened.sendingApplication);
    const participant: AppointmentParticipant[] = [
      { actor: { reference: patientUrl }, status: cancelled ? 'declined' : 'accepted' },
      ...resources.map((r) => ({ actor: r.actor, status: 'accepted' as const })),
    ];
    const appointment: Appointment = {
      resourceType: 'Appointment',
      identifier: [key],
      status,
      ...(serviceType.length ? { serviceType } : {}),
      ...(appointmentType ? { appointmentType } : {}),
      ...(reason ? { reasonCode: [reason] } : {}),
      ...(start && end ? { start, end } : {}),
      ...(minutes ? { minutesDuration: minutes } : {}),
      ...(slotRefs.length ? { slot: slotRefs } : {}),
      ...(sch.get(5, 2) || sch.get(5, 1) ? { comment: sch.get(5, 2) || sch.get(5, 1) } : {}),
      ...(placerOrder ? { basedOn: [{ type: 'ServiceRequest', identifier: placerOrder }] } : {}),
      participant,
    };
    if (!appointment.start && status !== 'cancelled' && status !== 'proposed' && status !== 'pending' && status !== 'waitlist') {
      throw new MappingProblem('required', `${sch.where(11)}`, `A ${status} appointment needs its start time (AIS-4 / AIL-6 / AIP-6 or SCH-11.4) and duration`);
    }
    opened.bundle.put(appointment, key);
    return opened.bundle.build();
  });
}

/** Start and end from the first resource segment that has them (AIS/AIG/AIL/AIP), else from SCH-11 (TQ). */
function timing(message: Hl7Message, sch: Hl7Segment, opened: OpenedMessage): { start?: string; end?: string; minutes?: number } {
  const { utcOffset } = opened.ctx;
  for (const name of ['AIS', 'AIG', 'AIL', 'AIP']) {
    for (const seg of segmentsNamed(message, name)) {
      const startField = name === 'AIS' ? 4 : 6;
      const start = fhirDateTime(seg.get(startField), seg.where(startField), utcOffset);
      if (!start || !start.includes('T')) continue;
      const durationField = startField + 3;
      const minutes = durationMinutes(seg.get(durationField), seg.get(durationField + 1), seg.where(durationField));
      if (minutes !== undefined) return { start, end: addMinutes(start, minutes), minutes };
    }
  }
  const start = fhirDateTime(sch.get(11, 4), `${sch.where(11)}.4`, utcOffset);
  const end = fhirDateTime(sch.get(11, 5), `${sch.where(11)}.5`, utcOffset);
  if (start && end) return { start, end, minutes: Math.round((Date.parse(end) - Date.parse(start)) / 60_000) };
  const minutes = durationMinutes(sch.get(9), sch.get(10), sch.where(9));
  return start && minutes !== undefined ? { start, end: addMinutes(start, minutes), minutes } : {};
}

/** Duration and its unit (ISO+ / ANSI: MIN, S, H, D); minutes when the unit is empty, as most schedulers send. */
function durationMinutes(value: string, unit: string, where: string): number | undefined {
  if (!value) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new MappingProblem('value', where, `${where} duration '${value}' is not a positive number`);
  const u = unit.toUpperCase();
  const factor = u === 'S' || u === 'SEC' ? 1 / 60 : u === 'H' || u === 'HR' ? 60 : u === 'D' ? 1440 : 1;
  return Math.round(n * factor);
}

interface BookedResource {
  actor: Actor;
  scheduleKey: Identifier;
  schedule: Schedule;
}

/** The booked rooms, devices and people (AIL, AIG, AIP), each with the Schedule its slots belong to. */
function bookedResources(message: Hl7Message, opened: OpenedMessage): BookedResource[] {
  const out: BookedResource[] = [];
  const add = (code: string, display: string, actor: Actor): void => {
    if (!code) return;
    const scheduleKey: Identifier = { system: authoritySystem(`${opened.ctx.defaultAuthority}-schedule`, '', '', opened.ctx), value: code };
    const schedule: Schedule = { resourceType: 'Schedule', identifier: [scheduleKey], active: true, actor: [actor], ...(display ? { comment: display } : {}) };
    out.push({ actor, scheduleKey, schedule });
  };
  for (const ail of segmentsNamed(message, 'AIL')) {
    const pl = ail.first(3);
    const display = pl.get(9) || [pl.get(1), pl.get(2)].filter(Boolean).join(' ');
    add(pl.get(1) + (pl.get(2) ? `-${pl.get(2)}` : ''), display, { display: display || pl.get(1) });
  }
  for (const aig of segmentsNamed(message, 'AIG')) {
    add(aig.get(3, 1), aig.get(3, 2), { display: aig.get(3, 2) || aig.get(3, 1) });
  }
  for (const aip of segmentsNamed(message, 'AIP')) {
    const person = practitionerReference(aip.first(3), opened.ctx);
    if (person) add(aip.get(3, 1), person.display ?? '', person);
  }
  return out;
}
