import crypto from 'node:crypto';
import zlib from 'node:zlib';
import express, { Request, Response } from 'express';
import { BillType, tradeBill } from './wechatpay-bill';
import type { WechatPayKeys } from './wechatpay-keys';
import { signedHeaders, verifyRequest } from './wechatpay-signature';
import { billDate, refundJson, transactionJson, WechatOrder, WechatPayState } from './wechatpay-state';

export type FailureMode = 'timeout' | '500' | 'malformed' | 'bad-signature';
export const FAILURE_MODES: FailureMode[] = ['timeout', '500', 'malformed', 'bad-signature'];

/** What the API needs of the peer that serves it. */
export interface WechatPayGateway {
  keys: WechatPayKeys;
  state: WechatPayState;
  baseUrl(): string;
  /** The failure the next call must show, if the control API asked for one; each call uses one up. */
  takeFailure(): FailureMode | undefined;
  /** Keeps a response unanswered until the peer stops. */
  hold(res: Response): void;
}

/** The trade bill download link lives 30 s (the older doc; the newer says 5 min): a client must fetch it at once. */
const DOWNLOAD_VALID_MS = 30_000;

type Answer = { status: number; body?: object };
const error = (status: number, code: string, message: string): Answer => ({ status, body: { code, message } });
const required = (field: string): Answer => error(400, 'PARAM_ERROR', `输入源“/body/${field}”映射到值字段“${field}”必填性规则校验失败，此字段为必填项`);

interface Body {
  appid?: string; mchid?: string; description?: string; out_trade_no?: string; attach?: string; notify_url?: string;
  transaction_id?: string; out_refund_no?: string; reason?: string;
  amount?: { total?: number; refund?: number; currency?: string };
  payer?: { openid?: string };
  scene_info?: { payer_client_ip?: string; h5_info?: { type?: string } };
}

/** WeChat Pay APIv3 as a merchant's server sees it: every call signed both ways, JSON in and out, amounts in 分. */
export function wechatPayApi(g: WechatPayGateway): express.Express {
  const { keys, state } = g;
  const downloads = new Map<string, { file: Buffer; gzip: boolean; expires: number }>();
  const app = express();
  app.use(express.raw({ type: () => true, limit: '1mb' }));

  app.use((req, res, next) => {
    const failure = g.takeFailure();
    if (failure === 'timeout') return g.hold(res);
    if (failure === '500') return void res.status(500).json({ code: 'SYSTEM_ERROR', message: '系统错误，请稍后重试' });
    res.locals.failure = failure;
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const refused = verifyRequest(keys, { method: req.method, url: req.originalUrl, body, authorization: req.get('authorization') });
    if (refused) return send(res, { status: 401, body: refused });
    res.locals.json = body ? safeJson(body) : {};
    if (res.locals.json === undefined) return send(res, error(400, 'PARAM_ERROR', '请求体格式错误，应为JSON'));
    next();
  });

  function send(res: Response, a: Answer): void {
    const body = a.body ? JSON.stringify(a.body) : '';
    // A malformed answer is still signed: the client's parser, not its signature check, must catch it.
    const sent = res.locals.failure === 'malformed' && body ? body.slice(0, Math.max(1, Math.floor(body.length / 2))) : body;
    res.status(a.status).set({ 'Request-ID': crypto.randomUUID(), ...signedHeaders(keys, sent, res.locals.failure === 'bad-signature') });
    if (sent) res.type('application/json').send(sent);
    else res.end();
  }
  const route = (handler: (req: Request, body: Body) => Answer) => (req: Request, res: Response) => send(res, handler(req, res.locals.json as Body));

  const createOrder = (tradeType: 'JSAPI' | 'MWEB') => route((_req, b) => {
    for (const f of ['appid', 'mchid', 'description', 'out_trade_no', 'notify_url'] as const) if (!b[f]) return required(f);
    if (!Number.isInteger(b.amount?.total)) return required('amount/total');
    if (tradeType === 'JSAPI' && !b.payer?.openid) return required('payer/openid');
    if (tradeType === 'MWEB' && !b.scene_info?.payer_client_ip) return required('scene_info/payer_client_ip');
    if (b.amount!.total! < 1) return error(400, 'PARAM_ERROR', '订单金额必须大于0');
    if (b.mchid !== keys.mchid) return error(400, 'PARAM_ERROR', '请求中的mchid与请求头中的商户号不一致');
    if (b.appid !== keys.appid) return error(400, 'INVALID_REQUEST', 'appid和mch_id不匹配，请检查后再试');
    if (!/^https?:\/\/[^?#]+$/.test(b.notify_url!)) return error(400, 'PARAM_ERROR', 'notify_url格式不正确，须为不带参数的完整URL');
    const known = state.orders.get(b.out_trade_no!);
    if (known) {
      if (known.tradeState === 'SUCCESS' || known.tradeState === 'REFUND') return error(400, 'ORDERPAID', '该订单已支付');
      if (known.tradeState === 'CLOSED') return error(400, 'ORDER_CLOSED', '订单已关闭');
      // The same order asked again gets the same prepay_id; the number reused for another order does not.
      if (known.total !== b.amount!.total || known.description !== b.description) return error(400, 'INVALID_REQUEST', '201 商户订单号重复');
      return prepayAnswer(known);
    }
    return prepayAnswer(state.addOrder({
      appid: b.appid!, mchid: b.mchid!, outTradeNo: b.out_trade_no!, description: b.description!, attach: b.attach, notifyUrl: b.notify_url!,
      total: b.amount!.total!, currency: b.amount!.currency ?? 'CNY', openid: b.payer?.openid ?? `oH5_${crypto.randomBytes(12).toString('base64url')}`, tradeType,
    }));
  });
  const prepayAnswer = (o: WechatOrder): Answer => ({
    status: 200,
    body: o.tradeType === 'JSAPI' ? { prepay_id: o.prepayId } : { h5_url: `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${o.prepayId}&package=${crypto.randomInt(1e9)}` },
  });
  app.post('/v3/pay/transactions/jsapi', createOrder('JSAPI'));
  app.post('/v3/pay/transactions/h5', createOrder('MWEB'));

  const queried = (o: WechatOrder | undefined, req: Request): Answer => {
    if (!req.query.mchid) return error(400, 'PARAM_ERROR', '输入源“/query/mchid”映射到值字段“mchid”必填性规则校验失败，此字段为必填项');
    return o ? { status: 200, body: transactionJson(o) } : error(404, 'ORDER_NOT_EXIST', '订单不存在');
  };
  app.get('/v3/pay/transactions/out-trade-no/:no', route((req) => queried(state.orders.get(String(req.params.no)), req)));
  app.get('/v3/pay/transactions/id/:id', route((req) => queried(state.byTransactionId(String(req.params.id)), req)));
  app.post('/v3/pay/transactions/out-trade-no/:no/close', route((req, b) => {
    if (!b.mchid) return required('mchid');
    const o = state.orders.get(String(req.params.no));
    if (!o) return error(404, 'ORDER_NOT_EXIST', '订单不存在');
    if (o.tradeState === 'SUCCESS' || o.tradeState === 'REFUND') return error(400, 'ORDERPAID', '订单已支付');
    o.tradeState = 'CLOSED';
    return { status: 204 };
  }));

  app.post('/v3/refund/domestic/refunds', route((_req, b) => {
    if (!b.out_refund_no) return required('out_refund_no');
    if (!b.out_trade_no && !b.transaction_id) return required('out_trade_no');
    if (!Number.isInteger(b.amount?.refund)) return required('amount/refund');
    if (!Number.isInteger(b.amount?.total)) return required('amount/total');
    if (!b.amount?.currency) return required('amount/currency');
    const o = b.out_trade_no ? state.orders.get(b.out_trade_no) : state.byTransactionId(b.transaction_id!);
    if (!o) return error(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    const known = state.refunds.get(b.out_refund_no);
    if (known) {
      // One refund per out_refund_no: a retry gets the refund it already made.
      if (known.outTradeNo !== o.outTradeNo || known.refund !== b.amount!.refund) return error(400, 'INVALID_REQUEST', '订单金额或退款金额与之前请求不一致，请核实后再试');
      return { status: 200, body: refundJson(known) };
    }
    if (o.tradeState !== 'SUCCESS' && o.tradeState !== 'REFUND') return error(400, 'INVALID_REQUEST', '订单未支付，不能发起退款');
    if (b.amount!.total !== o.total) return error(400, 'INVALID_REQUEST', '订单金额与原订单不一致，请核实后再试');
    if (b.amount!.refund! < 1) return error(400, 'PARAM_ERROR', '退款金额必须大于0');
    if (b.amount!.refund! > state.refundable(o)) return error(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额，请核实后再试');
    return { status: 200, body: refundJson(state.addRefund(o, { outRefundNo: b.out_refund_no, refund: b.amount!.refund!, reason: b.reason, notifyUrl: b.notify_url })) };
  }));
  app.get('/v3/refund/domestic/refunds/:no', route((req) => {
    const r = state.refunds.get(String(req.params.no));
    return r ? { status: 200, body: refundJson(r) } : error(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
  }));

  app.get('/v3/bill/tradebill', route((req) => {
    const date = String(req.query.bill_date ?? '');
    const type = String(req.query.bill_type ?? 'ALL') as BillType;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return error(400, 'PARAM_ERROR', 'bill_date格式错误，应为yyyy-MM-dd');
    if (!['ALL', 'SUCCESS', 'REFUND'].includes(type)) return error(400, 'PARAM_ERROR', 'bill_type取值错误');
    const today = billDate(new Date());
    if (date > today) return error(400, 'INVALID_REQUEST', '账单日期不能晚于当前日期');
    // The day's bill is served while the day runs (so tests need not wait for 09:00 tomorrow) and frozen once it is over.
    const key = `${date}|${type}`;
    const csv = state.frozenBills.get(key) ?? tradeBill(state, keys, date, type);
    if (csv === undefined) return error(400, 'NO_STATEMENT_EXIST', '账单文件不存在');
    if (date < today) state.frozenBills.set(key, csv);
    const gzip = req.query.tar_type === 'GZIP';
    const token = crypto.randomBytes(16).toString('hex');
    downloads.set(token, { file: gzip ? zlib.gzipSync(csv) : Buffer.from(csv), gzip, expires: Date.now() + DOWNLOAD_VALID_MS });
    return {
      status: 200,
      body: { hash_type: 'SHA1', hash_value: crypto.createHash('sha1').update(csv).digest('hex'), download_url: `${g.baseUrl()}/v3/billdownload/file?token=${token}` },
    };
  }));
  // The download is a signed request whose answer is not signed: the client checks the SHA1 instead (formats.md 1.5).
  app.get('/v3/billdownload/file', (req, res) => {
    const d = downloads.get(String(req.query.token ?? ''));
    if (!d || d.expires < Date.now()) return send(res, error(400, 'INVALID_REQUEST', '下载链接已过期或无效，请重新申请'));
    res.status(200).type('application/octet-stream').send(res.locals.failure === 'malformed' ? d.file.subarray(0, d.file.length >> 1) : d.file);
  });

  app.use((req, res) => send(res, error(404, 'NOT_FOUND', `请求的资源不存在：${req.method} ${req.path}`)));
  return app;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
