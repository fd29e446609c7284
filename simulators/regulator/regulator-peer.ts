import type { Request, Response, Router } from 'express';
import express from 'express';
import { sm2 } from 'sm-crypto-v2';
import { JsonApiPeer, JsonApiPeerOptions } from '../json-api/json-api-peer';
import { EnvelopeError, openEnvelope, RegulatorApp, signAnswer } from './regulator-envelope';

export interface RegulatorPeerOptions extends JsonApiPeerOptions {
  /**
   * The hospitals allowed to report. An app without a publicKey gets a key pair made at start, shown with its
   * private key on the control route: a demo hospital has no CA certificate, and no key belongs in the repository.
   */
  apps: RegulatorApp[];
}

/** formats.md §4: 备案类 / 业务类 / 评价类 / 不良事件类. */
export const DATA_SETS: Record<string, string> = {
  institution: '备案类', department: '备案类', practitioner: '备案类', 'service-price': '备案类',
  registration: '业务类', consultation: '业务类', 'medical-record': '业务类', prescription: '业务类',
  'prescription-review': '业务类', 'exam-lab': '业务类', delivery: '业务类', charge: '业务类',
  satisfaction: '评价类', complaint: '评价类', 'adverse-event': '不良事件类',
};

interface StoredRecord {
  appCode: string;
  dataSet: string;
  id: string;
  receivedAt: string;
  /** How many times the same record id was reported: a resend replaces, it does not add. */
  versions: number;
  record: Record<string, unknown>;
}

export const REGULATOR_REPORT_PATH = '/api/v1/report';

/**
 * A provincial 互联网医院监管平台: POST /api/v1/report with an SM4-encrypted, SM2- or SM3-signed envelope (see
 * regulator-envelope.ts) carrying `{dataSet, records: [{id, …}]}`. It keeps the records by data set and id, and
 * answers `{code: 0, message, data: {receiptNo, accepted}, timestamp, signData}` signed with its own SM2 key, or a
 * non-zero code naming what failed (10001 fields, 10002 appCode, 10003 timestamp, 10004 SM4, 10005 signature,
 * 10006 data set, 10007 record).
 */
export class RegulatorPeer extends JsonApiPeer {
  readonly name = 'regulator';
  readonly description = '监管平台: data reports in SM4-encrypted, SM2/SM3-signed envelopes, signed receipts';
  readonly records = new Map<string, StoredRecord>();
  readonly keys = sm2.generateKeyPairHex();
  private readonly apps = new Map<string, RegulatorApp & { privateKey?: string }>();
  private receipts = 0;

  constructor(options: RegulatorPeerOptions) {
    super(options);
    for (const app of options.apps) this.register(app);
  }

  /** Registers a hospital; without a public key one is generated, and the private key kept for the demo to use. */
  register(app: RegulatorApp): RegulatorApp & { privateKey?: string } {
    const pair = app.publicKey ? undefined : sm2.generateKeyPairHex();
    const entry = { ...app, publicKey: app.publicKey ?? pair!.publicKey, privateKey: pair?.privateKey };
    this.apps.set(app.appCode, entry);
    return entry;
  }

  app(appCode: string): (RegulatorApp & { privateKey?: string }) | undefined {
    return this.apps.get(appCode);
  }

  protected routes(app: express.Express): void {
    app.post(REGULATOR_REPORT_PATH, (req, res) => this.report(req, res));
  }

  protected override status(): Record<string, unknown> {
    return { reportUrl: `${this.url}${REGULATOR_REPORT_PATH}`, regulatorPublicKey: this.keys.publicKey, appCodes: [...this.apps.keys()], dataSets: DATA_SETS };
  }

  protected override controlRoutes(r: Router): void {
    // Credentials are shown in full: this is a simulator, and the demo hospital needs them to report.
    r.get('/apps', (_req, res) => res.json([...this.apps.values()]));
    r.post('/apps', (req, res) => {
      const { appCode, secret, publicKey } = (req.body ?? {}) as Partial<RegulatorApp>;
      if (!appCode || !secret) return void res.status(400).json({ error: 'appCode and secret are required' });
      res.status(201).json(this.register({ appCode, secret, publicKey }));
    });
    r.get('/records', (req, res) => {
      const dataSet = typeof req.query.dataSet === 'string' ? req.query.dataSet : undefined;
      res.json([...this.records.values()].filter((s) => !dataSet || s.dataSet === dataSet));
    });
  }

  protected override refuse(res: Response, status: number, code: string, message: string): void {
    res.locals.outcome = `refused ${code}: ${message}`;
    res.status(status).json(this.answer(Number(code), message, undefined));
  }

  private report(req: Request, res: Response): void {
    let payload: { dataSet?: string; records?: unknown };
    try {
      payload = (openEnvelope(req.body, this.apps) ?? {}) as typeof payload;
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      return this.refuse(res, 200, err.code, err.message);
    }
    const appCode = String((req.body as { appCode: string }).appCode);
    if (!payload.dataSet || !DATA_SETS[payload.dataSet]) return this.refuse(res, 200, '10006', `不支持的数据集 ${payload.dataSet ?? '(无)'}`);
    const records = Array.isArray(payload.records) ? (payload.records as Record<string, unknown>[]) : [];
    if (!records.length) return this.refuse(res, 200, '10006', 'records 为空');
    const bad = records.findIndex((r) => !r || typeof r !== 'object' || typeof r.id !== 'string' || !r.id);
    if (bad >= 0) return this.refuse(res, 200, '10007', `第 ${bad + 1} 条记录缺少 id`);
    const now = new Date().toISOString();
    for (const record of records) {
      const key = `${appCode}|${payload.dataSet}|${record.id as string}`;
      const known = this.records.get(key);
      this.records.set(key, { appCode, dataSet: payload.dataSet, id: record.id as string, receivedAt: now, versions: (known?.versions ?? 0) + 1, record });
    }
    const receiptNo = `JG${now.slice(0, 10).replace(/-/g, '')}${String(++this.receipts).padStart(6, '0')}`;
    res.locals.outcome = `accepted ${records.length} ${payload.dataSet} as ${receiptNo}`;
    res.json(this.answer(0, '成功', { receiptNo, accepted: records.length }));
  }

  private answer(code: number, message: string, data: Record<string, unknown> | undefined): Record<string, unknown> {
    const timestamp = Math.floor(Date.now() / 1000);
    const fields = { code, message, timestamp, ...(data ? { data: JSON.stringify(data) } : {}) };
    return { code, message, ...(data ? { data } : {}), timestamp, signData: signAnswer(fields, this.keys.privateKey) };
  }
}

export function regulatorPeer(options: RegulatorPeerOptions): RegulatorPeer {
  return new RegulatorPeer(options);
}
