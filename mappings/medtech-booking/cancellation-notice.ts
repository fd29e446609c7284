import type { OperationOutcome } from '@medplum/fhirtypes';
import { z } from 'zod';
import { platformBookingSchema, type PlatformCancellation } from '../../adapters/medtech-booking/medtech-booking-api';
import { zodOutcome } from './zod-outcome';

const noticeSchema = z.object({
  event: z.literal('booking.cancelled'),
  reason: z.string().optional(),
  booking: platformBookingSchema,
});

/**
 * The platform's notification `{event: "booking.cancelled", reason, booking}` (sent after it cancelled bookings
 * itself, e.g. 停诊) → the cancellation to apply. A notice about a booking that is still live is refused: the
 * platform only reports bookings it has already cancelled.
 */
export function cancellationNotice(content: string): PlatformCancellation | OperationOutcome {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    return zodOutcome([{ path: [], message: `not JSON: ${(err as Error).message}` }]);
  }
  const parsed = noticeSchema.safeParse(json);
  if (!parsed.success) return zodOutcome(parsed.error.issues);
  const { booking, reason } = parsed.data;
  if (booking.status !== 'cancelled') return zodOutcome([{ path: ['booking', 'status'], message: `booking ${booking.id} is ${booking.status}, not cancelled` }]);
  return {
    bookingId: booking.id,
    reason: reason ?? booking.cancelReason ?? '医技预约平台取消',
    ...(booking.cancelledAt ? { cancelledAt: booking.cancelledAt } : {}),
    ...(booking.slot ? { slot: booking.slot } : {}),
  };
}
