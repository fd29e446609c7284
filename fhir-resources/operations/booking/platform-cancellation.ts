import type { Repository } from '../../store/repository';
import type { PlatformCancellation } from '../../../adapters/medtech-booking/medtech-booking-api';
import { appointmentOfBooking, cancelAppointment, refreshSlot } from './booking-records';

/**
 * Applies a cancellation the platform made itself (停诊): the booking's Appointment becomes cancelled with the
 * platform's reason, which the patient's app shows, and the Slot takes the platform's new state. Repeats change
 * nothing. Returns what was done, for the message's record.
 */
export async function applyPlatformCancellation(repo: Repository, c: PlatformCancellation): Promise<string> {
  return repo.transaction(async (trx) => {
    await refreshSlot(trx, c.slot);
    const appointment = await appointmentOfBooking(trx, c.bookingId);
    if (!appointment) return `no Appointment for booking ${c.bookingId}: nothing to cancel`;
    if (appointment.status === 'cancelled') return `Appointment/${appointment.id} already cancelled`;
    await cancelAppointment(trx, appointment, 'prov', `医技预约平台取消：${c.reason}`);
    return `Appointment/${appointment.id} cancelled (${c.reason})`;
  });
}
