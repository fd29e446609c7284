/** What the simulated HIS knows: its patient index and the orders (医嘱) with their 收费 (charge) status. */

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
}

export class HisState {
  readonly patients = new Map<string, HisPatient>();
  readonly orders = new Map<string, HisOrder>();
  private nextPatient = 1;
  private nextOrder = 1;

  constructor(seed = true) {
    if (!seed) return;
    // Synthetic people: ID numbers have valid structure (area, birth date) but belong to no one.
    this.addPatient({ id: 'P000100001', name: '李梅', idCard: '330106198505124524', gender: '2', birthDate: '19850512', phone: '13912345678', address: '浙江省杭州市西湖区北山街道' });
    this.addPatient({ id: 'P000100002', name: '张建国', idCard: '330102196811300413', gender: '1', birthDate: '19681130', phone: '13705712345', address: '浙江省杭州市上城区湖滨街道' });
    this.addOrder({ patientId: 'P000100001', code: '250101001', name: '血常规', category: 'lab', price: '20.00', chargeStatus: 'unpaid', orderedAt: '20261125090000' });
    this.addOrder({ patientId: 'P000100001', code: '210102015', name: '胸部X线摄影(DR)', category: 'exam', price: '70.00', chargeStatus: 'paid', orderedAt: '20261125090500' });
    this.addOrder({ patientId: 'P000100002', code: 'X-A10BA02', name: '盐酸二甲双胍片 0.5g*48片', category: 'drug', price: '28.50', chargeStatus: 'unpaid', orderedAt: '20261125101000' });
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
    const order = { ...o, id };
    this.orders.set(id, order);
    return order;
  }

  orderPlacedAs(placerNumber: string): HisOrder | undefined {
    return [...this.orders.values()].find((o) => o.placerNumber === placerNumber);
  }

  ordersOf(patientId: string): HisOrder[] {
    return [...this.orders.values()].filter((o) => o.patientId === patientId);
  }
}
