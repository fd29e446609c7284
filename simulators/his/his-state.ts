/**
 * What the simulated HIS knows: its patient index, the orders (医嘱) with their price and 收费 (charge) status, and
 * the 收费 / 退费 it has booked (by out_trade_no / out_refund_no, so that a resend is answered with the same 收据号).
 */

export interface HisPatient {
  /** Local patient id (病人ID), root 2.16.156.10011.2.5.1.4. */
  id: string;
  name: string;
  /** 居民身份证号, root 2.16.156.10011.1.3. */
  idCard?: string;
  /** GB/T 2261.1: 1 男, 2 女, 0 未知, 9 未说明. */
  gender: '0' | '1' | '2' | '9';
  /** yyyyMMdd */
  birthDate?: string;
  phone?: string;
  address?: string;
}

export interface HisOrder {
  /** 医嘱号 */
  id: string;
  patientId: string;
  /** Item code in the hospital's 收费项目 dictionary, and its name. */
  code: string;
  name: string;
  /** lab | exam | drug | treatment */
  category: 'lab' | 'exam' | 'drug' | 'treatment';
  /** Price in 元, two decimals as the HIS keeps it. */
  price: string;
  /** 收费状态: unpaid 未收费, paid 已收费, refunded 已退费. */
  chargeStatus: 'unpaid' | 'paid' | 'refunded';
  /** yyyyMMddHHmmss */
  orderedAt: string;
  /** The platform's own number for an order it placed (POOR_IN200901UV), so that a resend is not a second order. */
  placerNumber?: string;
  /** 医嘱状态 as the last 新增 / 更新 said (active, cancelled …). */
  status?: string;
  /** 收费明细ID of the order's one charge line. */
  chargeId?: string;
  /** How many units the price is for (盒, 次), and the price of one, in 元. `price` is the line's amount. */
  quantity?: number;
  unit?: string;
  unitPrice?: string;
  /** 处方号: the drugs of one prescription share it. */
  prescriptionNo?: string;
  drug?: HisDrug;
  /** 注意事项 */
  note?: string;
  /** The out_trade_no it was paid under, once paid through the platform. */
  paidBy?: string;
}

export interface HisDrug {
  /** 单次剂量 and its unit. */
  dose: string;
  doseUnit: string;
  /** 用药途径 (2.16.156.10011.2.3.1.158) and 频次 (2.16.156.10011.2.3.1.267): code and name. */
  route: readonly [string, string];
  frequency: readonly [string, string];
  days: number;
}

/** A 收费 or 退费 the HIS booked. */
export interface HisReceipt {
  /** 收据号 */
  receiptNo: string;
  kind: 'charge' | 'refund';
  /** out_trade_no of a 收费, out_refund_no of a 退费. */
  number: string;
  patientId: string;
  orderIds: string[];
  /** 元 */
  amount: string;
  channel?: string;
  transactionId?: string;
  at: string;
}

export class HisState {
  readonly patients = new Map<string, HisPatient>();
  readonly orders = new Map<string, HisOrder>();
  /** By `charge:<out_trade_no>` / `refund:<out_refund_no>`. */
  readonly receipts = new Map<string, HisReceipt>();
  private nextPatient = 1;
  private nextOrder = 1;
  private nextCharge = 1;
  private nextPrescription = 1;
  private nextReceipt = 1;

  constructor(seed = true) {
    if (!seed) return;
    // Synthetic people: ID numbers have valid structure (area, birth date) but belong to no one.
    this.addPatient({ id: 'P000100001', name: '李梅', idCard: '330106198505124524', gender: '2', birthDate: '19850512', phone: '13912345678', address: '浙江省杭州市西湖区北山街道' });
    this.addPatient({ id: 'P000100002', name: '张建国', idCard: '330102196811300413', gender: '1', birthDate: '19681130', phone: '13705712345', address: '浙江省杭州市上城区湖滨街道' });
    this.addOrder({ patientId: 'P000100001', code: '250101001', name: '血常规', category: 'lab', price: '20.00', chargeStatus: 'unpaid', orderedAt: '20261125090000', quantity: 1, unitPrice: '20.00' });
    this.addOrder({ patientId: 'P000100001', code: '210102015', name: '胸部X线摄影(DR)', category: 'exam', price: '70.00', chargeStatus: 'paid', orderedAt: '20261125090500', quantity: 1, unitPrice: '70.00' });
    const prescriptionNo = this.newPrescriptionNo('20261125');
    this.addOrder({
      patientId: 'P000100002', code: 'X-A10BA02', name: '盐酸二甲双胍片 0.5g*48片', category: 'drug', price: '28.50', chargeStatus: 'unpaid', orderedAt: '20261125101000',
      quantity: 1, unit: '盒', unitPrice: '28.50', prescriptionNo, drug: { dose: '0.5', doseUnit: 'g', route: ['1', '口服'], frequency: ['TID', '每日三次'], days: 16 }, note: '饭后服用',
    });
    this.addOrder({
      patientId: 'P000100002', code: 'X-C10AA05', name: '阿托伐他汀钙片 20mg*7片', category: 'drug', price: '66.60', chargeStatus: 'unpaid', orderedAt: '20261125101000',
      quantity: 2, unit: '盒', unitPrice: '33.30', prescriptionNo, drug: { dose: '20', doseUnit: 'mg', route: ['1', '口服'], frequency: ['QN', '每晚一次'], days: 14 }, note: '睡前服用，服药期间监测肝功能',
    });
  }

  addPatient(p: Omit<HisPatient, 'id'> & { id?: string }): HisPatient {
    const id = p.id ?? `P${String(200000 + this.nextPatient++).padStart(9, '0')}`;
    const patient = { ...p, id };
    this.patients.set(id, patient);
    return patient;
  }

  findPatient(id: { local?: string; idCard?: string }): HisPatient | undefined {
    if (id.local) return this.patients.get(id.local);
    return [...this.patients.values()].find((p) => id.idCard && p.idCard === id.idCard);
  }

  addOrder(o: Omit<HisOrder, 'id'> & { id?: string }): HisOrder {
    const id = o.id ?? `O${o.orderedAt.slice(0, 8)}${String(this.nextOrder++).padStart(4, '0')}`;
    const chargeId = o.chargeId ?? `SF${o.orderedAt.slice(0, 8)}${String(this.nextCharge++).padStart(5, '0')}`;
    const order = { ...o, id, chargeId };
    this.orders.set(id, order);
    return order;
  }

  newPrescriptionNo(day: string): string {
    return `RX${day}${String(this.nextPrescription++).padStart(5, '0')}`;
  }

  newReceiptNo(day: string): string {
    return `SJ${day}${String(this.nextReceipt++).padStart(5, '0')}`;
  }

  /** The order a 收费 / 退费 line names: by its 收费明细ID, else by its 医嘱号. */
  orderForLine(line: { orderId?: string; chargeId?: string }): HisOrder | undefined {
    if (line.chargeId) return [...this.orders.values()].find((o) => o.chargeId === line.chargeId);
    return line.orderId ? this.orders.get(line.orderId) : undefined;
  }

  orderPlacedAs(placerNumber: string): HisOrder | undefined {
    return [...this.orders.values()].find((o) => o.placerNumber === placerNumber);
  }

  ordersOf(patientId: string): HisOrder[] {
    return [...this.orders.values()].filter((o) => o.patientId === patientId);
  }
}
