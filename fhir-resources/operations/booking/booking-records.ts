import { OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { Appointment, ChargeItem, Identifier, OperationOutcome, Slot } from '@medplum/fhirtypes';
import type { PlatformSlot } from '../../../adapters/medtech-booking/medtech-booking-api';
import { CANCELLATION_REASON_SYSTEM, MEDTECH_BOOKING_SYSTEM, MEDTECH_SLOT_SYSTEM } from '../../profiles/booking-vocabulary';
import { withAvailability } from '../../profiles/slot-availability';
import type { Repository } from '../../store/repository';

/** The records booking after payment reads and writes, shared by $book, $cancel-booking and the 停诊 notice. */

/** A refusal as the patient's app shows it: HTTP status from the outcome id, zh-CN text, the parameter at fault. */
export function refusal(id: 'conflict' | 'bad-request' | 'service-unavailable' | 'not-found', text: string, expression?: string): OperationOutcomeError {
  const code: NonNullable<OperationOutcome['issue']>[number]['code'] = id === 'conflict' ? 'business-rule' : id === 'service-unavailable' ? 'transient' : id === 'not-found' ? 'not-found' : 'invalid';
  return new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    id,
    issue: [{ severity: 'error', code, diagnostics: text, details: { text }, ...(expression ? { expression: [expression] } : {}) }],
  });
}

export function identifierValue(identifiers: Identifier[] | undefined, system: string): string | undefined {
  return identifiers?.find((i) => i.system === system)?.value;
}

async function searchAll<T extends Appointment | ChargeItem | Slot>(repo: Repository, query: string): Promise<T[]> {
  const [type, qs] = query.split('?');
  return (await repo.search(parseSearchRequest(type as T['resourceType'], Object.fromEntries(new URLSearchParams(qs))))).resources as T[];
}

export function chargeItemsOf(repo: Repository, serviceRequestId: string): Promise<ChargeItem[]> {
  return searchAll<ChargeItem>(repo, `ChargeItem?service=ServiceRequest/${serviceRequestId}&_count=100`);
}

/** The order's booked Appointment, if it has one. */
export async function liveAppointmentOf(repo: Repository, serviceRequestId: string): Promise<Appointment | undefined> {
  return (await searchAll<Appointment>(repo, `Appointment?based-on=ServiceRequest/${serviceRequestId}&status=booked&_count=10`))[0];
}

export async function appointmentOfBooking(repo: Repository, bookingId: string): Promise<Appointment | undefined> {
  return (await searchAll<Appointment>(repo, `Appointment?identifier=${encodeURIComponent(`${MEDTECH_BOOKING_SYSTEM}|${bookingId}`)}`))[0];
}

/** Who ended the booking: the patient (pat) or the hospital's side (prov, e.g. 停诊). */
export async function cancelAppointment(repo: Repository, appointment: Appointment, by: 'pat' | 'prov', reason: string): Promise<Appointment> {
  const cancelled: Appointment = {
    ...appointment,
    status: 'cancelled',
    cancelationReason: { coding: [{ system: CANCELLATION_REASON_SYSTEM, code: by, display: by === 'pat' ? 'Patient' : 'Provider' }], text: reason },
  };
  return (await repo.update(cancelled, { ifMatch: appointment.meta?.versionId })).resource;
}

/** Writes what the platform just said about a 号源 onto our Slot (found by the platform's id); absent Slot: nothing. */
export async function refreshSlot(repo: Repository, platformSlot: PlatformSlot | undefined): Promise<void> {
  if (!platformSlot) return;
  const [slot] = await searchAll<Slot>(repo, `Slot?identifier=${encodeURIComponent(`${MEDTECH_SLOT_SYSTEM}|${platformSlot.id}`)}`);
  if (!slot) return;
  const updated = withAvailability(slot, { capacity: platformSlot.capacity, available: platformSlot.available, stopped: platformSlot.status === 'stopped', room: platformSlot.room });
  if (updated.status === slot.status && JSON.stringify(updated.extension) === JSON.stringify(slot.extension) && updated.comment === slot.comment) return;
  await repo.update(updated);
}
