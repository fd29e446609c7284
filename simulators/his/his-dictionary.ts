import express, { Router } from 'express';
import { chinaNow } from '../china-time';

/**
 * The HIS's 收费项目 and 药品 dictionaries as the HIS exposes them to the platform: a read-only JSON view over its
 * tables (`GET /api/dictionary/charge-items`, `/api/dictionary/drugs`), each row with its update time, read in full
 * or `updatedSince` an instant (inclusive), in pages of `pageSize` with an opaque `cursor`. Rows are never deleted:
 * 停用 sets `status: stopped`. Prices are in 元, as everywhere in this HIS.
 */
export interface HisChargeItem {
  code: string; name: string; pinyin: string; category: 'lab' | 'exam' | 'treatment'; price: string; unit: string;
  deptCode: string; deptName: string; special: boolean; precautions?: string; status: 'active' | 'stopped'; updatedAt: string;
}

export interface HisDictionaryDrug {
  code: string; name: string; genericName: string; pinyin: string; spec: string; form: string; unit: string;
  manufacturer: string; approvalNo: string; price: string; insert?: string; status: 'active' | 'stopped'; updatedAt: string;
}

type Row = { code: string; updatedAt: string };

const SEEDED_AT = '2026-11-20T08:30:00+08:00';
const LAB = { category: 'lab', deptCode: '2001', deptName: '检验科' } as const;
const RAD = { category: 'exam', deptCode: '3001', deptName: '放射科' } as const;
const US = { category: 'exam', deptCode: '3002', deptName: '超声科' } as const;
const ECG = { category: 'exam', deptCode: '3003', deptName: '心电图室' } as const;
const TREAT = { category: 'treatment', deptCode: '1010', deptName: '门诊治疗室' } as const;

const CHARGE_ITEMS: Omit<HisChargeItem, 'status' | 'updatedAt' | 'special'>[] = [
  { code: '250101001', name: '血常规', pinyin: 'XCG', price: '20.00', unit: '次', ...LAB, precautions: '无需空腹；采血后按压针眼 3～5 分钟。' },
  { code: '250102001', name: '尿常规', pinyin: 'NCG', price: '10.00', unit: '次', ...LAB, precautions: '留取清晨第一次中段尿。' },
  { code: '250301001', name: '肝功能', pinyin: 'GGN', price: '60.00', unit: '次', ...LAB, precautions: '需空腹 8 小时以上采血。' },
  { code: '250302001', name: '肾功能', pinyin: 'SGN', price: '40.00', unit: '次', ...LAB, precautions: '需空腹采血。' },
  { code: '250303001', name: '血脂四项', pinyin: 'XZSX', price: '45.00', unit: '次', ...LAB, precautions: '检查前一日清淡饮食，空腹 12 小时采血。' },
  { code: '250304001', name: '空腹血糖', pinyin: 'KFXT', price: '8.00', unit: '次', ...LAB, precautions: '需空腹 8～12 小时。' },
  { code: '250305001', name: '糖化血红蛋白', pinyin: 'THXHDB', price: '70.00', unit: '次', ...LAB },
  { code: '250306001', name: '甲状腺功能五项', pinyin: 'JZXGNWX', price: '120.00', unit: '次', ...LAB },
  { code: '210102015', name: '胸部X线摄影(DR)', pinyin: 'XBXXSY', price: '70.00', unit: '部位', ...RAD, precautions: '检查前取下金属饰品；孕妇或可能怀孕者请告知医生。' },
  { code: '210300001', name: '胸部CT平扫', pinyin: 'XBCTPS', price: '180.00', unit: '部位', ...RAD, precautions: '检查前取下金属饰品；孕妇或可能怀孕者请告知医生。' },
  { code: '220201001', name: '肝胆胰脾彩超', pinyin: 'GDYPCC', price: '120.00', unit: '次', ...US, precautions: '检查前空腹 8 小时。' },
  { code: '220301001', name: '泌尿系彩超', pinyin: 'MNXCC', price: '100.00', unit: '次', ...US, precautions: '检查前 1 小时饮水 500～800ml，憋尿。' },
  { code: '310701001', name: '常规心电图检查(十二通道)', pinyin: 'CGXDTJC', price: '25.00', unit: '次', ...ECG },
  { code: '311201001', name: '雾化吸入', pinyin: 'WHXR', price: '15.00', unit: '次', ...TREAT },
  { code: '120400006', name: '静脉输液', pinyin: 'JMSY', price: '12.00', unit: '组', ...TREAT },
];

/** 特殊项目: a patient ordering one for themselves (自助开单) must give a reason. */
const SPECIAL_ITEMS: Omit<HisChargeItem, 'status' | 'updatedAt' | 'special'>[] = [
  { code: '250403014', name: '人类免疫缺陷病毒抗体测定(HIV)', pinyin: 'HIVKT', price: '55.00', unit: '项', ...LAB },
  { code: '210300201', name: '头颅MRI平扫', pinyin: 'TLMRIPS', price: '480.00', unit: '部位', ...RAD, precautions: '体内有心脏起搏器、金属植入物者不能检查；检查前取下所有金属物品。' },
];

const DRUGS: Omit<HisDictionaryDrug, 'status' | 'updatedAt'>[] = [
  { code: 'Y0100231', name: '盐酸二甲双胍片', genericName: '二甲双胍', pinyin: 'YSEJSGP', spec: '0.5g*48片', form: '片剂', unit: '盒', manufacturer: '中美上海施贵宝制药有限公司', approvalNo: '国药准字H20023370', price: '28.50', insert: '【适应症】用于单纯饮食控制及体育锻炼治疗无效的2型糖尿病。\n【用法用量】口服，一次0.5g，一日2次，随餐服用。' },
  { code: 'Y0100518', name: '阿卡波糖片', genericName: '阿卡波糖', pinyin: 'AKTTP', spec: '50mg*30片', form: '片剂', unit: '盒', manufacturer: '拜耳医药保健有限公司', approvalNo: '国药准字J20140126', price: '45.60' },
  { code: 'Y0100622', name: '格列美脲片', genericName: '格列美脲', pinyin: 'GLMNP', spec: '2mg*30片', form: '片剂', unit: '盒', manufacturer: '赛诺菲（北京）制药有限公司', approvalNo: '国药准字H20057672', price: '32.80' },
  { code: 'Y0200105', name: '阿托伐他汀钙片', genericName: '阿托伐他汀钙', pinyin: 'ATFTTGP', spec: '20mg*7片', form: '片剂', unit: '盒', manufacturer: '辉瑞制药有限公司', approvalNo: '国药准字H20051408', price: '33.30' },
  { code: 'Y0300112', name: '阿莫西林胶囊', genericName: '阿莫西林', pinyin: 'AMXLJN', spec: '0.25g*24粒', form: '胶囊剂', unit: '盒', manufacturer: '珠海联邦制药股份有限公司中山分厂', approvalNo: '国药准字H44021351', price: '12.80' },
  { code: 'Y0400031', name: '布洛芬缓释胶囊', genericName: '布洛芬', pinyin: 'BLFHSJN', spec: '0.3g*20粒', form: '胶囊剂', unit: '盒', manufacturer: '中美天津史克制药有限公司', approvalNo: '国药准字H10900089', price: '18.90' },
];

export class HisDictionary {
  readonly chargeItems = new Map<string, HisChargeItem>();
  readonly drugs = new Map<string, HisDictionaryDrug>();
  /** The view's recent reads (`/charge-items?updatedSince=…`), newest last, for the control route and tests. */
  readonly reads: string[] = [];
  private lastChange = 0;

  constructor(seed = true) {
    if (!seed) return;
    for (const i of CHARGE_ITEMS) this.chargeItems.set(i.code, { ...i, special: false, status: 'active', updatedAt: SEEDED_AT });
    for (const i of SPECIAL_ITEMS) this.chargeItems.set(i.code, { ...i, special: true, status: 'active', updatedAt: SEEDED_AT });
    for (const d of DRUGS) this.drugs.set(d.code, { ...d, status: 'active', updatedAt: SEEDED_AT });
  }

  /** A change at the HIS (new price, 停用): the row's fields and an update time strictly after the previous one. */
  change<T extends Row>(table: Map<string, T>, code: string, patch: Partial<T>): T | undefined {
    const row = table.get(code);
    if (!row) return undefined;
    this.lastChange = Math.max(Date.now(), this.lastChange + 1);
    Object.assign(row, patch, { code, updatedAt: chinaNow(this.lastChange) });
    return row;
  }

  /** The view: /charge-items and /drugs. */
  router(): Router {
    const r = express.Router();
    r.use((req, _res, next) => {
      this.reads.push(req.url);
      if (this.reads.length > 200) this.reads.shift();
      next();
    });
    r.get('/charge-items', (req, res) => pageOf(this.chargeItems, req, res));
    r.get('/drugs', (req, res) => pageOf(this.drugs, req, res));
    return r;
  }

  /** Control: list, and change a row as the HIS's 物价 / 药剂 staff would (`{"price":"25.00"}`, `{"status":"stopped"}`). */
  control(): Router {
    const r = express.Router();
    r.get('/reads', (_req, res) => res.json(this.reads));
    for (const [path, table] of [['charge-items', this.chargeItems], ['drugs', this.drugs]] as const) {
      r.get(`/${path}`, (_req, res) => res.json([...table.values()]));
      r.post(`/${path}/:code`, (req, res) => {
        const { code: _c, updatedAt: _u, ...patch } = (req.body ?? {}) as Partial<Row>;
        const row = this.change(table as Map<string, Row>, req.params.code, patch);
        return row ? void res.json(row) : void res.status(404).json({ error: `no ${path} row ${req.params.code}` });
      });
    }
    return r;
  }
}

function pageOf(table: Map<string, Row>, req: express.Request, res: express.Response): void {
  const pageSize = Number(req.query.pageSize ?? 100);
  const since = req.query.updatedSince === undefined ? undefined : Date.parse(String(req.query.updatedSince));
  let after: { t: number; k: string } | undefined;
  try {
    after = req.query.cursor ? JSON.parse(Buffer.from(String(req.query.cursor), 'base64url').toString('utf8')) : undefined;
  } catch {
    after = undefined;
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) return void res.status(400).json({ error: 'pageSize 须为 1～500' });
  if (since !== undefined && Number.isNaN(since)) return void res.status(400).json({ error: 'updatedSince 须为带时区的时间' });
  if (req.query.cursor && (typeof after?.t !== 'number' || typeof after?.k !== 'string')) return void res.status(400).json({ error: 'cursor 无效' });
  const key = (r: Row) => ({ t: Date.parse(r.updatedAt), k: r.code });
  const rows = [...table.values()]
    .filter((r) => since === undefined || Date.parse(r.updatedAt) >= since)
    .filter((r) => !after || key(r).t > after.t || (key(r).t === after.t && r.code > after.k))
    .sort((a, b) => key(a).t - key(b).t || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const items = rows.slice(0, pageSize);
  const last = items[items.length - 1];
  const nextCursor = rows.length > pageSize && last ? Buffer.from(JSON.stringify(key(last))).toString('base64url') : undefined;
  res.json({ items, ...(nextCursor ? { nextCursor } : {}) });
}
