/** What the simulated 医技预约 platform knows: exam items, their 号源 (slots) per campus and period, and bookings. */

export interface ExamItem {
  /** Code in the hospital's 收费项目 dictionary, as the HIS orders it. */
  code: string;
  name: string;
  department: string;
  /** 检查须知, shown to the patient with the booking. */
  precautions: string;
}

export interface Slot {
  /** itemCode-campus-yyyyMMdd-HHmm: readable in a demo, and stable across restarts of the simulator. */
  id: string;
  itemCode: string;
  campus: string;
  room: string;
  /** yyyy-MM-dd and HH:mm, China time. */
  date: string;
  start: string;
  end: string;
  capacity: number;
  booked: number;
  /** stopped = 停诊: no new bookings, existing ones cancelled by the platform. */
  status: 'open' | 'stopped';
}

export interface Booking {
  id: string;
  slotId: string;
  /** The caller's order number (医嘱号 / ServiceRequest id): one live booking per order. */
  orderNo: string;
  patientId: string;
  patientName?: string;
  itemCode: string;
  /** 排队号 within the slot. */
  queueNo: number;
  status: 'booked' | 'cancelled';
  bookedAt: string;
  cancelledAt?: string;
  cancelReason?: string;
}

export type BookingRefusal = { status: number; code: string; message: string };

export const CAMPUSES: Record<string, string> = { TY: '桃源院区', BY: '北院院区', XH: '星湖门诊' };

const ITEMS: (ExamItem & { campuses: string[]; room: string })[] = [
  { code: '210102015', name: '胸部X线摄影(DR)', department: '放射科', precautions: '检查前去除颈部及胸前金属饰品；孕妇或可能怀孕者请提前告知医生。', campuses: ['TY', 'BY'], room: '放射科 DR 2室' },
  { code: '210300101', name: '头颅CT平扫', department: '放射科', precautions: '去除头部金属物品；检查时保持头部不动。', campuses: ['TY'], room: '放射科 CT 1室' },
  { code: '220600001', name: '腹部彩色多普勒超声(肝胆胰脾)', department: '超声科', precautions: '检查前一日晚餐清淡，检查当日空腹8小时以上。', campuses: ['TY', 'BY', 'XH'], room: '超声科 3诊室' },
  { code: '310903002', name: '电子胃镜检查', department: '内镜中心', precautions: '检查前禁食8小时、禁水2小时；需家属陪同；服用抗凝药者请提前告知。', campuses: ['TY'], room: '内镜中心 2室' },
  { code: '310701001', name: '常规心电图检查', department: '心电图室', precautions: '检查前休息5分钟，穿着便于暴露胸部的衣物。', campuses: ['TY', 'BY', 'XH'], room: '心电图室' },
];

const PERIODS: [string, string, number][] = [['08:00', '09:00', 4], ['09:00', '10:00', 4], ['14:00', '15:00', 3]];

/** China time as yyyy-MM-dd / HH:mm, whatever zone the machine runs in. */
export function chinaNow(now = Date.now()): { date: string; time: string } {
  const iso = new Date(now + 8 * 3600_000).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 16) };
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86400_000).toISOString().slice(0, 10);
}

export class MedtechState {
  readonly items = new Map<string, ExamItem>();
  readonly slots = new Map<string, Slot>();
  readonly bookings = new Map<string, Booking>();
  private nextBooking = 1;

  constructor(seedDays = 7) {
    for (const { campuses, room, ...item } of ITEMS) {
      this.items.set(item.code, item);
      for (let d = 0; d < seedDays; d++) {
        const date = addDays(chinaNow().date, d + 1);
        for (const campus of campuses) {
          for (const [start, end, capacity] of PERIODS) this.addSlot({ itemCode: item.code, campus, room, date, start, end, capacity });
        }
      }
    }
  }

  addSlot(s: Omit<Slot, 'id' | 'booked' | 'status'>): Slot {
    const slot: Slot = { ...s, id: `${s.itemCode}-${s.campus}-${s.date.replace(/-/g, '')}-${s.start.replace(':', '')}`, booked: 0, status: 'open' };
    this.slots.set(slot.id, slot);
    return slot;
  }

  findSlots(q: { itemCode?: string; date?: string; campus?: string }): Slot[] {
    return [...this.slots.values()].filter((s) => (!q.itemCode || s.itemCode === q.itemCode) && (!q.date || s.date === q.date) && (!q.campus || s.campus === q.campus));
  }

  liveBookingOf(orderNo: string): Booking | undefined {
    return [...this.bookings.values()].find((b) => b.orderNo === orderNo && b.status === 'booked');
  }

  /** Books a slot for an order; a repeat of the same booking answers the booking already made. */
  book(r: { slotId: string; orderNo: string; patientId: string; patientName?: string; itemCode?: string }, now = Date.now()): Booking | BookingRefusal {
    const slot = this.slots.get(r.slotId);
    if (!slot) return { status: 404, code: 'SLOT_NOT_FOUND', message: `号源 ${r.slotId} 不存在` };
    if (r.itemCode && r.itemCode !== slot.itemCode) return { status: 409, code: 'ITEM_MISMATCH', message: `号源 ${slot.id} 属于项目 ${slot.itemCode}，不是 ${r.itemCode}` };
    const earlier = this.liveBookingOf(r.orderNo);
    if (earlier?.slotId === slot.id) return earlier;
    if (earlier) return { status: 409, code: 'ORDER_ALREADY_BOOKED', message: `医嘱 ${r.orderNo} 已预约 ${earlier.slotId}，请先取消` };
    if (slot.status === 'stopped') return { status: 409, code: 'SLOT_STOPPED', message: `号源 ${slot.id} 已停诊` };
    const china = chinaNow(now);
    if (`${slot.date} ${slot.start}` <= `${china.date} ${china.time}`) return { status: 409, code: 'SLOT_EXPIRED', message: `号源 ${slot.id} 已过预约时间` };
    if (slot.booked >= slot.capacity) return { status: 409, code: 'SLOT_FULL', message: `号源 ${slot.id} 已约满` };
    slot.booked++;
    // Queue numbers are never reused: a patient who cancelled keeps nobody else's number.
    const queueNo = [...this.bookings.values()].filter((b) => b.slotId === slot.id).length + 1;
    const booking: Booking = {
      id: `YJ${slot.date.replace(/-/g, '')}${String(this.nextBooking++).padStart(5, '0')}`, slotId: slot.id, orderNo: r.orderNo,
      patientId: r.patientId, patientName: r.patientName, itemCode: slot.itemCode, queueNo, status: 'booked', bookedAt: new Date(now).toISOString(),
    };
    this.bookings.set(booking.id, booking);
    return booking;
  }

  /** Cancels a booking and gives its place back; cancelling twice is not an error, the caller may be retrying. */
  cancel(id: string, reason: string | undefined, now = Date.now()): Booking | BookingRefusal {
    const booking = this.bookings.get(id);
    if (!booking) return { status: 404, code: 'BOOKING_NOT_FOUND', message: `预约 ${id} 不存在` };
    if (booking.status === 'cancelled') return booking;
    const slot = this.slots.get(booking.slotId);
    if (slot && slot.booked > 0) slot.booked--;
    Object.assign(booking, { status: 'cancelled', cancelledAt: new Date(now).toISOString(), cancelReason: reason });
    return booking;
  }
}

export function isRefusal(x: Booking | BookingRefusal): x is BookingRefusal {
  return 'code' in x;
}
