import type { Request, Response, Router } from 'express';
import express from 'express';
import { JsonApiPeer, JsonApiPeerOptions } from '../json-api/json-api-peer';
import { CirculatedRx, RxError, RxState, STATUS_LABEL } from './rx-state';

export interface PrescriptionPlatformPeerOptions extends JsonApiPeerOptions {
  /** 定点医药机构编号 allowed to call (the hospitals of the group). */
  fixmedinsCodes: string[];
}

/** The hospital-side services of formats.md §5 and the 医保 interface numbers they go by. */
const SERVICES: Record<string, string> = {
  uploadChk: '7101', rxFixmedinsSign: '7102', rxFileUpld: '7103', rxUndo: '7104', hospRxDetlQuery: '7105', rxChkInfoQuery: '7106', rxSetlInfoQuery: '7107',
};

export const RX_BASE_PATH = '/fixmedins';

/**
 * A 处方流转平台 in the 医保电子处方中心 style: POST /fixmedins/<service> with the 医保 2.0 envelope
 * `{infno, msgid, fixmedins_code, inf_time, input: {data}}`, answered `{infcode: 0 | -1, inf_refmsgid, err_msg,
 * output}` — a refusal is infcode -1 with the reason under HTTP 200, as the centre answers. The hospital flow is
 * uploadChk → rxFixmedinsSign → rxFileUpld, then it polls rxChkInfoQuery (审方) and rxSetlInfoQuery (取药); rxUndo
 * withdraws. The control routes play the reviewing pharmacist and the dispensing pharmacy.
 */
export class PrescriptionPlatformPeer extends JsonApiPeer {
  readonly name = 'prescription-platform';
  readonly description = '处方流转平台 (医保电子处方中心 style): 预核验, 签名, 上传, 撤销, 审方 and 取药 queries';
  readonly state = new RxState();

  constructor(private readonly options: PrescriptionPlatformPeerOptions) {
    super(options);
  }

  protected routes(app: express.Express): void {
    app.post(`${RX_BASE_PATH}/:service`, (req, res) => this.serve(String(req.params.service), req, res));
  }

  protected override status(): Record<string, unknown> {
    return { baseUrl: `${this.url}${RX_BASE_PATH}`, services: SERVICES, fixmedinsCodes: this.options.fixmedinsCodes };
  }

  protected override refuse(res: Response, status: number, _code: string, message: string): void {
    res.locals.outcome = `refused: ${message}`;
    res.status(status).json(this.envelope(res.locals.msgid as string | undefined, -1, message, undefined));
  }

  protected override serverError(res: Response): void {
    res.status(500).json({ infcode: -1, err_msg: '系统异常: 数据库连接超时 (simulated)' });
  }

  protected override controlRoutes(r: Router): void {
    r.get('/prescriptions', (_req, res) => res.json([...this.state.rx.values()].map((rx) => ({ ...rx, statusLabel: STATUS_LABEL[rx.status] }))));
    const act = (fn: (rx: string, body: Record<string, unknown>) => CirculatedRx) => (req: Request, res: Response) => {
      try {
        res.json(fn(String(req.params.hiRxno), (req.body ?? {}) as Record<string, unknown>));
      } catch (err) {
        if (!(err instanceof RxError)) throw err;
        res.status(409).json({ error: err.message });
      }
    };
    r.post('/prescriptions/:hiRxno/review', act((id, b) => this.state.review(id, b.approve !== false, typeof b.opinion === 'string' ? b.opinion : b.approve !== false ? '审核通过' : '用药不适宜')));
    r.post('/prescriptions/:hiRxno/dispense', act((id, b) => this.state.dispense(id, typeof b.pharmacy === 'string' ? b.pharmacy : '星湖大药房(模拟)')));
  }

  private serve(service: string, req: Request, res: Response): void {
    const body = (req.body ?? {}) as { infno?: string; msgid?: string; fixmedins_code?: string; input?: { data?: Record<string, unknown> } };
    res.locals.msgid = body.msgid;
    if (!SERVICES[service]) return this.refuse(res, 404, '-1', `未知服务 ${service}`);
    if (body.infno && body.infno !== SERVICES[service]) return this.refuse(res, 200, '-1', `infno ${body.infno} 与服务 ${service} (${SERVICES[service]}) 不符`);
    if (!body.msgid) return this.refuse(res, 200, '-1', 'msgid 必填');
    if (!body.fixmedins_code || !this.options.fixmedinsCodes.includes(body.fixmedins_code)) return this.refuse(res, 200, '-1', `定点医药机构 ${body.fixmedins_code ?? '(无)'} 未开通处方流转`);
    const data = body.input?.data;
    if (!data || typeof data !== 'object') return this.refuse(res, 200, '-1', 'input.data 必填');
    let output: Record<string, unknown>;
    try {
      output = this.output(service, body.fixmedins_code, data);
    } catch (err) {
      if (!(err instanceof RxError)) throw err;
      return this.refuse(res, 200, '-1', err.message);
    }
    res.locals.outcome = `${service} ok`;
    res.json(this.envelope(body.msgid, 0, '', output));
  }

  private output(service: string, fixmedinsCode: string, data: Record<string, unknown>): Record<string, unknown> {
    switch (service) {
      case 'uploadChk': {
        const rx = this.state.check(fixmedinsCode, data);
        return { rx_trace_code: rx.rxTraceCode, hi_rxno: rx.hiRxno };
      }
      case 'rxFixmedinsSign': {
        const rx = this.state.sign(data);
        return { rx_file: data.original_rx_file, sign_digest: rx.signDigest, sign_cert_sn: 'SIM-CA-0001', sign_cert_dn: 'CN=处方流转平台(模拟),O=医保电子处方中心' };
      }
      case 'rxFileUpld': {
        const rx = this.state.upload(data);
        return { hi_rxno: rx.hiRxno, rx_stas_codg: rx.status, rx_stas_name: STATUS_LABEL[rx.status] };
      }
      case 'rxUndo': {
        const rx = this.state.undo(data);
        return { hi_rxno: rx.hiRxno, rx_stas_codg: rx.status, rx_stas_name: STATUS_LABEL[rx.status] };
      }
      case 'hospRxDetlQuery': {
        const rx = this.owned(fixmedinsCode, data);
        return { hi_rxno: rx.hiRxno, hosp_rxno: rx.hospRxno, rx_stas_codg: rx.status, rx_stas_name: STATUS_LABEL[rx.status], upload_time: rx.uploadedAt, ...rx.upload };
      }
      case 'rxChkInfoQuery': {
        const rx = this.owned(fixmedinsCode, data);
        return { hi_rxno: rx.hiRxno, rx_chk_stas_codg: rx.review?.stas ?? '0', rx_chk_opnn: rx.review?.opinion ?? '', rx_chk_time: rx.review?.time ?? '', phar_name: rx.review?.pharName ?? '' };
      }
      default: {
        const rx = this.owned(fixmedinsCode, data);
        return { hi_rxno: rx.hiRxno, setl_flag: rx.settlement ? '1' : '0', setl_time: rx.settlement?.time ?? '', fixmedins_name: rx.settlement?.pharmacy ?? '', seldrugs: rx.settlement?.drugs ?? [] };
      }
    }
  }

  private owned(fixmedinsCode: string, data: Record<string, unknown>): CirculatedRx {
    const rx = this.state.get(data.hi_rxno);
    // One hospital of the group may not read another's prescriptions through the centre.
    if (rx.fixmedinsCode !== fixmedinsCode) throw new RxError(`医保处方编号 ${rx.hiRxno} 不属于机构 ${fixmedinsCode}`);
    return rx;
  }

  private envelope(msgid: string | undefined, infcode: number, errMsg: string, output: Record<string, unknown> | undefined): Record<string, unknown> {
    const now = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
    return { infcode, inf_refmsgid: `RX${now}${Math.floor(Math.random() * 1e6).toString().padStart(6, '0')}`, refmsg_time: now, respond_time: now, err_msg: errMsg, warn_msg: null, output: output ?? null, msgid: msgid ?? null };
  }
}

export function prescriptionPlatformPeer(options: PrescriptionPlatformPeerOptions): PrescriptionPlatformPeer {
  return new PrescriptionPlatformPeer(options);
}
