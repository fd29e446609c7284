import type { HisDrug, HisOrder } from './his-state';

/**
 * What a doctor at the simulated HIS orders when the control route is not told otherwise: a 西药处方 for type 2
 * diabetes and a 检查申请单, with the hospital's prices (元). Codes are the HIS's own 收费项目 codes.
 */
export interface DrugLine extends HisDrug {
  code: string;
  name: string;
  quantity: number;
  unit: string;
  /** Price of one unit, 元. */
  unitPrice: string;
  note?: string;
}

export interface ServiceLine {
  code: string;
  name: string;
  quantity?: number;
  unitPrice: string;
}

export const DEMO_DRUGS: DrugLine[] = [
  { code: 'Y0100231', name: '盐酸二甲双胍片 0.5g*48片', quantity: 1, unit: '盒', unitPrice: '28.50', dose: '0.5', doseUnit: 'g', route: ['1', '口服'], frequency: ['TID', '每日三次'], days: 16, note: '饭后服用' },
  { code: 'Y0100518', name: '阿卡波糖片(拜唐苹) 50mg*30片', quantity: 2, unit: '盒', unitPrice: '45.60', dose: '50', doseUnit: 'mg', route: ['1', '口服'], frequency: ['TID', '每日三次'], days: 20, note: '与第一口饭同时嚼服' },
  { code: 'Y0100622', name: '格列美脲片 2mg*30片', quantity: 1, unit: '盒', unitPrice: '32.80', dose: '2', doseUnit: 'mg', route: ['1', '口服'], frequency: ['QD', '每日一次'], days: 30, note: '早餐前服用，警惕低血糖' },
];

export const DEMO_EXAMS: ServiceLine[] = [
  { code: '210300001', name: '胸部CT平扫', unitPrice: '180.00' },
  { code: '310701001', name: '常规心电图检查(十二通道)', unitPrice: '25.00' },
];

/** unit price × quantity in 元, by integer 分 (the HIS's own arithmetic). */
export function lineAmount(unitPrice: string, quantity: number): string {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(unitPrice);
  if (!m || !Number.isInteger(quantity) || quantity <= 0) throw new Error(`price ${unitPrice} × ${quantity} is not an amount`);
  const fen = (Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))) * quantity;
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

type NewOrder = Omit<HisOrder, 'id'>;

export function drugOrder(line: DrugLine, patientId: string, prescriptionNo: string, orderedAt: string): NewOrder {
  const { code, name, quantity, unit, unitPrice, note, ...drug } = line;
  return {
    patientId, code, name, category: 'drug', price: lineAmount(unitPrice, quantity), chargeStatus: 'unpaid', orderedAt, status: 'active',
    quantity, unit, unitPrice, prescriptionNo, drug, ...(note ? { note } : {}),
  };
}

export function serviceOrder(line: ServiceLine, category: 'exam' | 'lab' | 'treatment', patientId: string, orderedAt: string): NewOrder {
  const quantity = line.quantity ?? 1;
  return {
    patientId, code: line.code, name: line.name, category, price: lineAmount(line.unitPrice, quantity), chargeStatus: 'unpaid', orderedAt, status: 'active',
    quantity, unitPrice: line.unitPrice,
  };
}
