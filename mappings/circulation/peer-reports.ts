import type { CirculationEvent, DispensedDrug } from './circulation-transitions';
import { CirculationMappingError, fromBeijingTime } from './prescription-content';

/** A pharmacy's signed callback (accept, reject, 备药完成, 核销), as its API documents it. */
export interface PharmacyCallback {
  event: string;
  rxNo: string;
  orderId?: string;
  status?: string;
  at?: string;
  reason?: string;
  redeemedAt?: string;
  pharmacy?: string;
  drugs?: { code?: string; name?: string; quantity?: number; unit?: string; traceCode?: string; lot?: string }[];
}

/** The callback as a circulation event; an event the hospital does not know is refused (the message is kept as error). */
export function pharmacyCallbackEvent(callback: PharmacyCallback): CirculationEvent {
  if (!callback || typeof callback.rxNo !== 'string' || !callback.rxNo) throw new CirculationMappingError('pharmacy callback without rxNo');
  const { rxNo } = callback;
  const at = callback.at ?? callback.redeemedAt;
  if (!at) throw new CirculationMappingError(`pharmacy callback for ${callback.rxNo} without a time (at)`);
  switch (callback.event) {
    case 'accepted': return { kind: 'approved', rxNo, at };
    case 'rejected': return { kind: 'rejected', rxNo, at, note: callback.reason || '药房拒绝接收' };
    case 'dispensed': return { kind: 'awaiting-pickup', rxNo, at };
    case 'delivering': return { kind: 'delivering', rxNo, at };
    case 'cancelled': return { kind: 'cancelled', rxNo, at, ...(callback.reason ? { note: `药房取消：${callback.reason}` } : {}) };
    case 'redeemed':
      return { kind: 'picked-up', rxNo, at: callback.redeemedAt ?? at, ...(callback.pharmacy ? { pharmacy: callback.pharmacy } : {}), drugs: dispensedDrugs(callback.drugs) };
    default: throw new CirculationMappingError(`pharmacy callback for ${callback.rxNo}: unknown event "${String(callback.event)}"`);
  }
}

function dispensedDrugs(drugs: PharmacyCallback['drugs']): DispensedDrug[] {
  return (drugs ?? []).filter((d) => d?.code).map((d) => ({
    code: String(d.code), quantity: Number(d.quantity) || 0,
    ...(d.name ? { name: d.name } : {}), ...(d.unit ? { unit: d.unit } : {}), ...(d.traceCode ? { traceCode: d.traceCode } : {}), ...(d.lot ? { lot: d.lot } : {}),
  }));
}

/** What one poll of a pharmacy learnt about a prescription: its GET /api/prescriptions/<rxNo> answer. */
export interface PharmacyStatus {
  task: string;
  rxNo: string;
  polledAt: string;
  order: {
    status?: string;
    history?: { status?: string; at?: string; note?: string }[];
    redemption?: { redeemedAt?: string; pharmacy?: string; drugs?: PharmacyCallback['drugs'] };
  };
}

/**
 * The pharmacy's order status as the event its callback would have carried (the poll makes up a lost callback):
 * received says nothing new; the time is that of the status in the order's history, else when the poll asked.
 */
export function pharmacyStatusEvent(status: PharmacyStatus): CirculationEvent | undefined {
  const { rxNo, order } = status;
  const entry = [...(order.history ?? [])].reverse().find((h) => h.status === order.status);
  const at = entry?.at ?? status.polledAt;
  switch (order.status) {
    case 'accepted': return { kind: 'approved', rxNo, at };
    case 'rejected': return { kind: 'rejected', rxNo, at, note: entry?.note || '药房拒绝接收' };
    case 'dispensed': return { kind: 'awaiting-pickup', rxNo, at };
    case 'delivering': return { kind: 'delivering', rxNo, at };
    case 'cancelled': return { kind: 'cancelled', rxNo, at, ...(entry?.note ? { note: `药房取消：${entry.note}` } : {}) };
    case 'picked_up': {
      const r = order.redemption ?? {};
      return { kind: 'picked-up', rxNo, at: r.redeemedAt ?? at, ...(r.pharmacy ? { pharmacy: r.pharmacy } : {}), drugs: dispensedDrugs(r.drugs) };
    }
    default: return undefined;
  }
}

/** What one poll of the platform learnt about a prescription: rxChkInfoQuery (审方) and, once approved, rxSetlInfoQuery (取药). */
export interface PlatformStatus {
  task: string;
  /** The hospital's 处方号 (hosp_rxno) and the platform's number for it. */
  rxNo: string;
  hiRxno: string;
  /** When the poll asked: the event time when the platform gives none. */
  polledAt: string;
  review: { rx_chk_stas_codg?: string; rx_chk_opnn?: string; rx_chk_time?: string };
  settlement?: { setl_flag?: string; setl_time?: string; fixmedins_name?: string; seldrugs?: { med_list_codg?: string; drug_genname?: string; drug_trac_codg?: string; manu_lotnum?: string; sel_retn_cnt?: number }[] };
}

/** The newest fact in a poll answer: 取药 over 审方; undefined while the prescription still waits for review. */
export function platformStatusEvent(status: PlatformStatus): CirculationEvent | undefined {
  const s = status.settlement;
  if (s?.setl_flag === '1') {
    return {
      kind: 'picked-up', rxNo: status.rxNo, at: fromBeijingTime(s.setl_time, status.polledAt), ...(s.fixmedins_name ? { pharmacy: s.fixmedins_name } : {}),
      drugs: (s.seldrugs ?? []).filter((d) => d.med_list_codg).map((d) => ({
        code: String(d.med_list_codg), quantity: Number(d.sel_retn_cnt) || 0,
        ...(d.drug_genname ? { name: d.drug_genname } : {}), ...(d.drug_trac_codg ? { traceCode: d.drug_trac_codg } : {}), ...(d.manu_lotnum ? { lot: d.manu_lotnum } : {}),
      })),
    };
  }
  const at = fromBeijingTime(status.review.rx_chk_time, status.polledAt);
  // rx_chk_stas_codg: 0 待审核, 1 审核通过, 2 审核不通过 (7204 审核结果).
  const { rxNo } = status;
  if (status.review.rx_chk_stas_codg === '1') return { kind: 'approved', rxNo, at, ...(status.review.rx_chk_opnn ? { note: status.review.rx_chk_opnn } : {}) };
  if (status.review.rx_chk_stas_codg === '2') return { kind: 'rejected', rxNo, at, note: status.review.rx_chk_opnn || '审方未通过' };
  return undefined;
}
