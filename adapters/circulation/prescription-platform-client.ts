import { randomInt } from 'node:crypto';
import { HttpPeer } from '../http/http-peer';

/** The 医保 2.0 interface numbers of the hospital-side 处方流转 services (formats.md §5). */
const INFNO = {
  uploadChk: '7101', rxFixmedinsSign: '7102', rxFileUpld: '7103', rxUndo: '7104', hospRxDetlQuery: '7105', rxChkInfoQuery: '7106', rxSetlInfoQuery: '7107',
} as const;

export type PlatformService = keyof typeof INFNO;

/** The centre answered infcode -1: it refused this request (content, state). Not a transport failure, so not retried. */
export class PlatformRefusal extends Error {
  constructor(readonly service: PlatformService, readonly reason: string) {
    super(`${service}: ${reason}`);
    this.name = 'PlatformRefusal';
  }
}

export interface PrescriptionPlatformOptions {
  /** Base URL of the services, e.g. https://…/fixmedins (POST <base>/<service>). */
  url: string;
  /** 定点医药机构编号 of the hospital. */
  fixmedinsCode: string;
  timeoutMs: number;
}

export interface UploadedPrescription {
  hiRxno: string;
  rxTraceCode: string;
  /** One line per step and what the centre said, for the message's recorded response. */
  steps: string[];
}

/** 医保 2.0 times are Beijing time: yyyyMMddHHmmss. */
const infTime = (now: number) => new Date(now + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');

/**
 * The 处方流转平台 (医保电子处方中心) over its JSON envelope `{infno, msgid, fixmedins_code, inf_time, input: {data}}`,
 * answered `{infcode, err_msg, output}`. The upload is three calls in this order — 预核验 hands out the platform's
 * numbers, 签名 signs the file under them, 上传 sends the signed file — each repeatable until the upload.
 */
export class PrescriptionPlatformClient {
  private readonly peer: HttpPeer;
  private seq = 0;

  constructor(private readonly o: PrescriptionPlatformOptions) {
    this.peer = new HttpPeer({ url: o.url, method: 'POST', timeoutMs: o.timeoutMs });
  }

  async call(service: PlatformService, data: Record<string, unknown>): Promise<Record<string, unknown>> {
    const now = Date.now();
    // msgid: 定点机构编号 + time + a sequence, unique per request as the centre requires.
    const msgid = `${this.o.fixmedinsCode}${infTime(now)}${String((this.seq = (this.seq + 1) % 10_000) * 100 + randomInt(100)).padStart(6, '0')}`;
    const body = JSON.stringify({ infno: INFNO[service], msgid, fixmedins_code: this.o.fixmedinsCode, inf_time: infTime(now), input: { data } });
    const reply = await this.peer.exchange(body, { 'content-type': 'application/json; charset=utf-8' }, (r) => JSON.parse(r.body), `${this.o.url.replace(/\/$/, '')}/${service}`);
    const answer = JSON.parse(reply.body) as { infcode?: number | string; err_msg?: string; output?: Record<string, unknown> | null };
    if (Number(answer.infcode) !== 0) throw new PlatformRefusal(service, answer.err_msg || `infcode ${String(answer.infcode)}`);
    return answer.output ?? {};
  }

  /**
   * 预核验 → 签名 → 上传. `known` are the numbers an earlier, interrupted attempt recorded: when the centre already
   * holds the upload under them, nothing is sent again; `onChecked` records the numbers before the file goes out.
   */
  async upload(check: Record<string, unknown>, rxFile: string, known: { hiRxno?: string; rxTraceCode?: string }, onChecked: (n: { hiRxno: string; rxTraceCode: string }) => Promise<void>): Promise<UploadedPrescription> {
    const steps: string[] = [];
    if (known.hiRxno && known.rxTraceCode) {
      const detail = await this.call('hospRxDetlQuery', { hi_rxno: known.hiRxno });
      const state = String(detail.rx_stas_codg ?? '');
      steps.push(`hospRxDetlQuery: ${known.hiRxno} ${String(detail.rx_stas_name ?? state)}`);
      if (state !== 'checked' && state !== 'signed' && state !== 'revoked') return { hiRxno: known.hiRxno, rxTraceCode: known.rxTraceCode, steps };
    }
    const checked = await this.call('uploadChk', check);
    const numbers = { hiRxno: String(checked.hi_rxno ?? ''), rxTraceCode: String(checked.rx_trace_code ?? '') };
    if (!numbers.hiRxno || !numbers.rxTraceCode) throw new Error(`uploadChk answered without hi_rxno / rx_trace_code: ${JSON.stringify(checked).slice(0, 300)}`);
    steps.push(`uploadChk: hi_rxno ${numbers.hiRxno}, rx_trace_code ${numbers.rxTraceCode}`);
    await onChecked(numbers);
    const tie = { hi_rxno: numbers.hiRxno, rx_trace_code: numbers.rxTraceCode };
    const signed = await this.call('rxFixmedinsSign', { ...tie, original_rx_file: rxFile });
    steps.push(`rxFixmedinsSign: sign_digest ${String(signed.sign_digest ?? '')}, cert ${String(signed.sign_cert_sn ?? '')}`);
    const uploaded = await this.call('rxFileUpld', { ...tie, rx_file: signed.rx_file ?? rxFile, sign_digest: signed.sign_digest ?? '', sign_cert_sn: signed.sign_cert_sn ?? '' });
    steps.push(`rxFileUpld: ${String(uploaded.rx_stas_name ?? uploaded.rx_stas_codg ?? 'ok')}`);
    return { ...numbers, steps };
  }

  async close(): Promise<void> {
    await this.peer.close();
  }
}
