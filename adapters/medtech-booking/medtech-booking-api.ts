import { z } from 'zod';

/**
 * The 医技预约 platform's JSON web API as Lingshu uses it (the exam-scheduling system of radiology, ultrasound,
 * endoscopy): items, 号源 (slots) per item and campus with what is left, bookings per order. Answers are
 * `{code: "0", data}`; refusals an HTTP 4xx with `{code, message}` (SLOT_NOT_FOUND, SLOT_FULL, SLOT_STOPPED,
 * SLOT_EXPIRED, ITEM_MISMATCH, ORDER_ALREADY_BOOKED, BOOKING_NOT_FOUND). Times are China time, date and HH:mm apart.
 */

export const platformItemSchema = z.object({
  code: z.string().min(1),
  name: z.string(),
  department: z.string().optional(),
  /** 检查须知. */
  precautions: z.string().optional(),
});

export const platformSlotSchema = z.object({
  id: z.string().min(1),
  itemCode: z.string().min(1),
  itemName: z.string().optional(),
  campus: z.string().min(1),
  campusName: z.string().optional(),
  room: z.string().optional(),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'yyyy-MM-dd'),
  start: z.string().regex(/^\d{2}:\d{2}$/, 'HH:mm'),
  end: z.string().regex(/^\d{2}:\d{2}$/, 'HH:mm'),
  capacity: z.number().int().min(0),
  booked: z.number().int().min(0).optional(),
  /** stopped = 停诊. */
  status: z.enum(['open', 'stopped']),
  available: z.number().int().min(0),
});

export const platformBookingSchema = z.object({
  id: z.string().min(1),
  slotId: z.string().min(1),
  orderNo: z.string(),
  patientId: z.string(),
  itemCode: z.string(),
  itemName: z.string().optional(),
  queueNo: z.number().int().optional(),
  status: z.enum(['booked', 'cancelled']),
  bookedAt: z.string().optional(),
  cancelledAt: z.string().optional(),
  cancelReason: z.string().optional(),
  precautions: z.string().optional(),
  slot: platformSlotSchema.optional(),
});

export type PlatformItem = z.infer<typeof platformItemSchema>;
export type PlatformSlot = z.infer<typeof platformSlotSchema>;
export type PlatformBooking = z.infer<typeof platformBookingSchema>;

/** A booking the platform cancelled itself (停诊), as its notice tells it: which, why, and the slot as it now is. */
export interface PlatformCancellation {
  bookingId: string;
  /** Shown to the patient on the cancelled Appointment. */
  reason: string;
  cancelledAt?: string;
  slot?: PlatformSlot;
}

export interface BookRequest {
  slotId: string;
  /** Our order number: one live booking per order on the platform. */
  orderNo: string;
  patientId: string;
  patientName?: string;
  itemCode?: string;
}

/** What booking after payment asks of the platform; MedtechBookingClient speaks it over HTTP. */
export interface MedtechBookingPlatform {
  items(): Promise<PlatformItem[]>;
  slots(query: { itemCode?: string; campus?: string; date?: string }): Promise<PlatformSlot[]>;
  book(request: BookRequest): Promise<PlatformBooking>;
  cancel(bookingId: string, reason: string): Promise<PlatformBooking>;
}

/** The platform answered and refused: its code and message (zh-CN, fit to show the patient). */
export class MedtechBookingRefusal extends Error {
  constructor(readonly httpStatus: number, readonly code: string, readonly platformMessage: string) {
    super(`医技预约平台拒绝 (${code}): ${platformMessage}`);
    this.name = 'MedtechBookingRefusal';
  }
}

/** No usable answer (down, timeout, 5xx, malformed, our token refused): whether anything happened there is unknown. */
export class MedtechBookingUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MedtechBookingUnavailable';
  }
}
