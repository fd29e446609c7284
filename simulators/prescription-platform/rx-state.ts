import { createHash } from 'node:crypto';

/** One prescription as the 处方流转平台 (医保电子处方中心) holds it, from 预核验 to 取药 or 撤销. */
export interface CirculatedRx {
  hiRxno: string;
  rxTraceCode: string;
  hospRxno: string;
  fixmedinsCode: string;
  status: RxStatus;
  upload: Record<string, unknown>;
  signDigest?: string;
  uploadedAt?: string;
  review?: { stas: '1' | '2'; opinion: string; pharName: string; time: string };
  settlement?: { pharmacy: string; time: string; drugs: { med_list_codg: string; drug_genname: string; drug_trac_codg: string; manu_lotnum: string; sel_retn_cnt: number }[] };
  undo?: { reason: string; time: string };
}

/** formats.md §5: 待审方 → 通过/驳回 → 待取药 → 已取药, or 撤销; `checked`/`signed` are the hospital's steps before upload. */
export type RxStatus = 'checked' | 'signed' | 'pending_review' | 'approved' | 'rejected' | 'dispensed' | 'revoked';

export const STATUS_LABEL: Record<RxStatus, string> = {
  checked: '已预核验', signed: '已签名', pending_review: '待审方', approved: '审核通过，待取药', rejected: '审核驳回', dispensed: '已取药', revoked: '已撤销',
};

export class RxError extends Error {}

const REQUIRED_UPLOAD = ['hosp_rxno', 'rx_type_code', 'prsc_time', 'valid_days'] as const;
const REQUIRED_DRUG = ['med_list_codg', 'drug_genname', 'drug_cnt'] as const;

const stamp = (now: number) => new Date(now + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

export class RxState {
  readonly rx = new Map<string, CirculatedRx>();
  private seq = 0;

  get(hiRxno: unknown): CirculatedRx {
    const rx = typeof hiRxno === 'string' ? this.rx.get(hiRxno) : undefined;
    if (!rx) throw new RxError(`医保处方编号 ${String(hiRxno ?? '(无)')} 不存在`);
    return rx;
  }

  /** 上传预核验: checks the content and hands out the platform's numbers; a repeat before upload answers the same numbers. */
  check(fixmedinsCode: string, data: Record<string, unknown>): CirculatedRx {
    const missing = REQUIRED_UPLOAD.filter((k) => data[k] === undefined || data[k] === '');
    if (missing.length) throw new RxError(`缺少必填字段: ${missing.join(', ')}`);
    const drugs = Array.isArray(data.rxdrugdetail) ? (data.rxdrugdetail as Record<string, unknown>[]) : [];
    if (!drugs.length) throw new RxError('rxdrugdetail 不能为空');
    drugs.forEach((d, n) => {
      const lack = REQUIRED_DRUG.filter((k) => d?.[k] === undefined || d[k] === '');
      if (lack.length) throw new RxError(`第 ${n + 1} 条药品缺少: ${lack.join(', ')}`);
    });
    const mdtrt = data.mdtrtinfo as Record<string, unknown> | undefined;
    if (!mdtrt?.patn_name) throw new RxError('mdtrtinfo.patn_name 必填');
    const hospRxno = String(data.hosp_rxno);
    const known = [...this.rx.values()].find((r) => r.fixmedinsCode === fixmedinsCode && r.hospRxno === hospRxno && r.status !== 'revoked');
    if (known && known.status !== 'checked' && known.status !== 'signed') throw new RxError(`院内处方编号 ${hospRxno} 已上传，状态 ${STATUS_LABEL[known.status]}`);
    if (known) return Object.assign(known, { upload: data });
    const n = String(++this.seq).padStart(6, '0');
    const rx: CirculatedRx = { hiRxno: `HRX${fixmedinsCode}${n}`, rxTraceCode: `TRC${Date.now().toString(36).toUpperCase()}${n}`, hospRxno, fixmedinsCode, status: 'checked', upload: data };
    this.rx.set(rx.hiRxno, rx);
    return rx;
  }

  /** 医保电子签名: the platform signs the prescription file; the digest ties the later upload to what was signed. */
  sign(data: Record<string, unknown>): CirculatedRx & { signDigest: string } {
    const rx = this.traced(data);
    if (rx.status !== 'checked' && rx.status !== 'signed') throw new RxError(`处方状态为 ${STATUS_LABEL[rx.status]}，不能签名`);
    const file = typeof data.original_rx_file === 'string' ? data.original_rx_file : '';
    if (!file) throw new RxError('original_rx_file (Base64) 必填');
    rx.signDigest = createHash('sm3').update(Buffer.from(file, 'base64')).digest('hex');
    rx.status = 'signed';
    return rx as CirculatedRx & { signDigest: string };
  }

  /** 处方上传: only the signed file, whole; from here the prescription waits for a pharmacist's review. */
  upload(data: Record<string, unknown>, now = Date.now()): CirculatedRx {
    const rx = this.traced(data);
    if (rx.status === 'pending_review') return rx;
    if (rx.status !== 'signed') throw new RxError(`处方状态为 ${STATUS_LABEL[rx.status]}，须先完成医保电子签名`);
    const file = typeof data.rx_file === 'string' ? data.rx_file : '';
    if (createHash('sm3').update(Buffer.from(file, 'base64')).digest('hex') !== rx.signDigest) throw new RxError('rx_file 与签名时的处方文件不一致');
    Object.assign(rx, { status: 'pending_review', uploadedAt: stamp(now) });
    return rx;
  }

  undo(data: Record<string, unknown>, now = Date.now()): CirculatedRx {
    const rx = this.get(data.hi_rxno);
    if (rx.status === 'revoked') return rx;
    if (rx.status === 'dispensed') throw new RxError('处方已取药，不能撤销');
    Object.assign(rx, { status: 'revoked', undo: { reason: String(data.undo_rea ?? ''), time: stamp(now) } });
    return rx;
  }

  review(hiRxno: string, approve: boolean, opinion: string, now = Date.now()): CirculatedRx {
    const rx = this.get(hiRxno);
    if (rx.status !== 'pending_review') throw new RxError(`处方状态为 ${STATUS_LABEL[rx.status]}，不在待审方`);
    rx.review = { stas: approve ? '1' : '2', opinion, pharName: '审方药师(模拟)', time: stamp(now) };
    rx.status = approve ? 'approved' : 'rejected';
    return rx;
  }

  /** 取药 at a pharmacy: every drug gets a 追溯码 and a lot, as the pharmacy's 核销 (7206) reports them. */
  dispense(hiRxno: string, pharmacy: string, now = Date.now()): CirculatedRx {
    const rx = this.get(hiRxno);
    if (rx.status !== 'approved') throw new RxError(`处方状态为 ${STATUS_LABEL[rx.status]}，不能取药`);
    const drugs = (rx.upload.rxdrugdetail as Record<string, unknown>[]).map((d, n) => ({
      med_list_codg: String(d.med_list_codg), drug_genname: String(d.drug_genname),
      drug_trac_codg: `8${String(now).slice(-10)}${String(n).padStart(2, '0')}${'0'.repeat(7)}`, manu_lotnum: `L${stamp(now).slice(0, 10).replace(/-/g, '')}`, sel_retn_cnt: Number(d.drug_cnt),
    }));
    rx.settlement = { pharmacy, time: stamp(now), drugs };
    rx.status = 'dispensed';
    return rx;
  }

  private traced(data: Record<string, unknown>): CirculatedRx {
    const rx = this.get(data.hi_rxno);
    if (data.rx_trace_code !== rx.rxTraceCode) throw new RxError('rx_trace_code 与医保处方编号不匹配');
    return rx;
  }
}
