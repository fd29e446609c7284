import type { MedtechBookingPlatform } from '../../../adapters/medtech-booking/medtech-booking-api';
import type { Operation } from '../operation';
import { bookOperation } from './book';
import { cancelBookingOperation } from './cancel-booking';

/** Booking after payment: $book and $cancel-booking over one 医技预约 platform. */
export function bookingOperations(platform: () => MedtechBookingPlatform): Operation[] {
  return [bookOperation(platform), cancelBookingOperation(platform)];
}
