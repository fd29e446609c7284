import type { Request, Response, Router } from 'express';
import express from 'express';
import { JsonApiPeer, JsonApiPeerOptions } from '../json-api/json-api-peer';
import { Booking, BookingRefusal, CAMPUSES, isRefusal, MedtechState, Slot } from './medtech-state';

export interface MedtechBookingPeerOptions extends JsonApiPeerOptions {
  /** Bearer token callers must present. */
  token: string;
  /** Where the platform reports bookings it cancels itself (停诊); none = not reported. */
  notifyUrl?: string;
  /** Days of 号源 to make, starting tomorrow. */
  seedDays?: number;
}

/**
 * A 医技预约 platform (the exam-scheduling system of radiology, ultrasound, endoscopy): a JSON web API under /api
 * with a bearer token — list items and 号源 with what is left, book a slot for an order, cancel, query — answering
 * `{code: "0", data}` or an HTTP 4xx with `{code, message}` (SLOT_NOT_FOUND, SLOT_FULL, SLOT_STOPPED, SLOT_EXPIRED,
 * ITEM_MISMATCH, ORDER_ALREADY_BOOKED, BOOKING_NOT_FOUND). A 停诊 set on the control route cancels that slot's
 * bookings and reports each to notifyUrl, the way the platform tells the hospital after the fact.
 */
export class MedtechBookingPeer extends JsonApiPeer {
  readonly name = 'medtech-booking';
  readonly description = '医技预约 platform: exam 号源 per item and campus, book / cancel / query over a JSON web API';
  readonly state: MedtechState;

  constructor(private readonly options: MedtechBookingPeerOptions) {
    super(options);
    this.state = new MedtechState(options.seedDays ?? 7);
  }

  protected routes(app: express.Express): void {
    app.use('/api', (req, res, next) => {
      if (req.header('authorization') !== `Bearer ${this.options.token}`) return this.refuse(res, 401, 'UNAUTHORIZED', '令牌无效或缺失');
      next();
    });
    app.get('/api/items', (_req, res) => res.json({ code: '0', data: [...this.state.items.values()] }));
    app.get('/api/slots', (req, res) => {
      const q = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
      res.json({ code: '0', data: this.state.findSlots({ itemCode: q('itemCode'), date: q('date'), campus: q('campus') }).map((s) => this.view(s)) });
    });
    app.post('/api/bookings', (req, res) => this.book(req, res));
    app.get('/api/bookings', (req, res) => {
      const { orderNo, patientId } = req.query as Record<string, string | undefined>;
      if (!orderNo && !patientId) return this.refuse(res, 400, 'BAD_REQUEST', 'orderNo 或 patientId 必填其一');
      const found = [...this.state.bookings.values()].filter((b) => (!orderNo || b.orderNo === orderNo) && (!patientId || b.patientId === patientId));
      res.json({ code: '0', data: found.map((b) => this.bookingView(b)) });
    });
    app.get('/api/bookings/:id', (req, res) => {
      const b = this.state.bookings.get(String(req.params.id));
      if (!b) return this.refuse(res, 404, 'BOOKING_NOT_FOUND', `预约 ${req.params.id} 不存在`);
      res.json({ code: '0', data: this.bookingView(b) });
    });
    app.post('/api/bookings/:id/cancel', (req, res) => {
      const reason = typeof (req.body as { reason?: unknown })?.reason === 'string' ? (req.body as { reason: string }).reason : undefined;
      this.answer(res, this.state.cancel(String(req.params.id), reason), 200);
    });
  }

  protected override status(): Record<string, unknown> {
    return { apiUrl: `${this.url}/api`, notifyUrl: this.options.notifyUrl ?? null, campuses: CAMPUSES, slots: this.state.slots.size, bookings: this.state.bookings.size };
  }

  protected override controlRoutes(r: Router): void {
    r.get('/slots', (req, res) => res.json(this.state.findSlots(req.query as Record<string, string>).map((s) => this.view(s))));
    r.post('/slots', (req, res) => {
      const s = (req.body ?? {}) as Partial<Slot>;
      if (!s.itemCode || !this.state.items.has(s.itemCode) || !s.campus || !CAMPUSES[s.campus] || !/^\d{4}-\d{2}-\d{2}$/.test(s.date ?? '') || !/^\d{2}:\d{2}$/.test(s.start ?? '')) {
        return void res.status(400).json({ error: 'itemCode (a known item), campus (TY|BY|XH), date yyyy-MM-dd and start HH:mm are required' });
      }
      res.status(201).json(this.view(this.state.addSlot({ itemCode: s.itemCode, campus: s.campus, date: s.date!, start: s.start!, end: s.end ?? s.start!, room: s.room ?? '', capacity: Number(s.capacity ?? 1) })));
    });
    r.patch('/slots/:id', (req, res) => {
      const slot = this.state.slots.get(req.params.id);
      if (!slot) return void res.status(404).json({ error: `no slot ${req.params.id}` });
      if (req.body?.capacity !== undefined) slot.capacity = Number(req.body.capacity);
      res.json(this.view(slot));
    });
    r.post('/slots/:id/stop', async (req, res) => {
      const slot = this.state.slots.get(req.params.id);
      if (!slot) return void res.status(404).json({ error: `no slot ${req.params.id}` });
      res.json(await this.stopSlot(slot, typeof req.body?.reason === 'string' ? req.body.reason : '医生停诊'));
    });
    r.get('/bookings', (_req, res) => res.json([...this.state.bookings.values()].map((b) => this.bookingView(b))));
  }

  /** 停诊: closes the slot, cancels its bookings and reports each to the hospital. */
  async stopSlot(slot: Slot, reason: string): Promise<{ slot: unknown; cancelled: string[] }> {
    slot.status = 'stopped';
    const cancelled = [...this.state.bookings.values()].filter((b) => b.slotId === slot.id && b.status === 'booked');
    for (const b of cancelled) {
      this.state.cancel(b.id, reason);
      if (this.options.notifyUrl) await this.post(this.options.notifyUrl, { event: 'booking.cancelled', reason, booking: this.bookingView(b) }, { authorization: `Bearer ${this.options.token}` });
    }
    return { slot: this.view(slot), cancelled: cancelled.map((b) => b.id) };
  }

  private book(req: Request, res: Response): void {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof b[k] === 'string' && b[k] ? (b[k] as string) : undefined);
    const slotId = str('slotId');
    const orderNo = str('orderNo');
    const patientId = str('patientId');
    if (!slotId || !orderNo || !patientId) return this.refuse(res, 400, 'BAD_REQUEST', 'slotId, orderNo, patientId 必填');
    const before = this.state.liveBookingOf(orderNo);
    const result = this.state.book({ slotId, orderNo, patientId, patientName: str('patientName'), itemCode: str('itemCode') });
    this.answer(res, result, before && !isRefusal(result) && before.id === result.id ? 200 : 201);
  }

  private answer(res: Response, result: Booking | BookingRefusal, okStatus: number): void {
    if (isRefusal(result)) return this.refuse(res, result.status, result.code, result.message);
    res.locals.outcome = `${result.status} ${result.id}`;
    res.status(okStatus).json({ code: '0', data: this.bookingView(result) });
  }

  private view(s: Slot): Slot & { campusName: string; itemName?: string; available: number } {
    return { ...s, campusName: CAMPUSES[s.campus] ?? s.campus, itemName: this.state.items.get(s.itemCode)?.name, available: s.status === 'open' ? Math.max(0, s.capacity - s.booked) : 0 };
  }

  private bookingView(b: Booking): Booking & { slot?: unknown; itemName?: string; precautions?: string } {
    const slot = this.state.slots.get(b.slotId);
    const item = this.state.items.get(b.itemCode);
    return { ...b, itemName: item?.name, precautions: item?.precautions, slot: slot && this.view(slot) };
  }
}

export function medtechBookingPeer(options: MedtechBookingPeerOptions): MedtechBookingPeer {
  return new MedtechBookingPeer(options);
}
