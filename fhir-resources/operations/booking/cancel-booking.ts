import type { Appointment, ServiceRequest } from '@medplum/fhirtypes';
import { MedtechBookingRefusal, type MedtechBookingPlatform, type PlatformBooking } from '../../../adapters/medtech-booking/medtech-booking-api';
import { childLogger } from '../../../engine/logger';
import { MEDTECH_BOOKING_SYSTEM } from '../../profiles/booking-vocabulary';
import type { Repository } from '../../store/repository';
import { operation, optional, resource, string } from '../operation';
import { platformOutcome } from './book';
import { cancelAppointment, identifierValue, liveAppointmentOf, refreshSlot, refusal } from './booking-records';

const log = childLogger({ component: 'booking' });

/**
 * `POST /fhir/ServiceRequest/{id}/$cancel-booking` (`reason` optional): cancels the order's booking on the 医技预约
 * platform, then marks its Appointment cancelled (by the patient) and gives the Slot its place back. The platform
 * goes first, outside any store transaction: if it cannot be asked the booking stands and the caller gets 503.
 */
export function cancelBookingOperation(platform: () => MedtechBookingPlatform) {
  return operation({
    name: 'cancel-booking',
    level: 'instance',
    resourceType: 'ServiceRequest',
    description: '医技预约: cancel the booking of an order',
    transaction: 'own',
    parameters: { reason: optional(string()) },
    output: { return: resource<Appointment>('Appointment') },
    async run(repo: Repository, params, context) {
      const order = await repo.read<ServiceRequest>('ServiceRequest', context.id!);
      const store = context.elevated;
      const appointment = await liveAppointmentOf(store, order.id!);
      if (!appointment) throw refusal('conflict', '该医嘱没有有效的预约，无需取消');
      const reason = params.reason?.trim() || '患者取消预约';
      const bookingId = identifierValue(appointment.identifier, MEDTECH_BOOKING_SYSTEM);
      let answer: PlatformBooking | undefined;
      if (bookingId) {
        try {
          answer = await platform().cancel(bookingId, reason);
        } catch (err) {
          // The platform no longer knows the booking: nothing holds a place there, so ours can end too.
          if (!(err instanceof MedtechBookingRefusal && err.code === 'BOOKING_NOT_FOUND')) throw platformOutcome(err, '取消预约');
          log.warn('booking unknown to the platform; cancelled here only', { booking: bookingId, appointment: appointment.id });
        }
      }
      const cancelled = await store.transaction(async (trx) => {
        const done = await cancelAppointment(trx, appointment, 'pat', reason);
        await refreshSlot(trx, answer?.slot);
        return done;
      });
      log.info('booking cancelled by the patient side', { serviceRequest: order.id, booking: bookingId, appointment: appointment.id, caller: context.caller.role });
      return { return: cancelled };
    },
  });
}
