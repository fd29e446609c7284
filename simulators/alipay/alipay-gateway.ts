import crypto from 'node:crypto';
import express, { Response } from 'express';
import { tradeBillZip } from './alipay-bill';
import type { AlipayKeys } from './alipay-keys';
import { rsa2Verify, signContent, signedAnswer } from './alipay-signature';
import { AlipayState, AlipayTrade, alipayTime, beijingDate, fen, yuan } from './alipay-state';

export type FailureMode = 'timeout' | '500' | 'malformed' | 'bad-signature';
export const FAILURE_MODES: FailureMode[] = ['timeout', '500', 'malformed', 'bad-signature'];

/** What the gateway needs of the peer that serves it. */
export interface AlipayGateway {
  keys: AlipayKeys;
  state: AlipayState;
  baseUrl(): string;
  takeFailure(): FailureMode | undefined;
  hold(res: Response): void;
  /** Whether the next refund is to stay unpaid (fund_change N) until the control API completes it; uses one up. */
  takeRefundDeferral(): boolean;
}

/** The bill link lives 30 s (formats.md 2.1). */
const DOWNLOAD_VALID_MS = 30_000;

type Inner = Record<string, unknown>;
type Biz = Record<string, string | undefined>;
const ok = (fields: Inner): Inner => ({ code: '10000', msg: 'Success', ...fields });
const business = (subCode: string, subMsg: string): Inner => ({ code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg });
const missing = (subCode: string, subMsg: string): Inner => ({ code: '40001', msg: 'Missing Required Arguments', sub_code: subCode, sub_msg: subMsg });
const invalid = (subCode: string, subMsg: string): Inner => ({ code: '40002', msg: 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg });

/** Alipay OpenAPI: `POST /gateway.do` with the common parameters, RSA2 both ways, the business fields in biz_content. */
export function alipayApi(g: AlipayGateway): express.Express {
  const { keys, state } = g;
  const downloads = new Map<string, { fileName: string; zip: Buffer; expires: number }>();
  const frozen = new Map<string, { fileName: string; zip: Buffer }>();
  const app = express();
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));

  const trade = (b: Biz) => state.find(b.out_trade_no, b.trade_no);
  const tradeIds = (t: AlipayTrade) => ({ trade_no: t.tradeNo, out_trade_no: t.outTradeNo });

  const methods: Record<string, (b: Biz, p: Record<string, string>) => Inner> = {
    'alipay.trade.create': (b, p) => {
      const total = fen(b.total_amount);
      if (!b.out_trade_no) return business('ACQ.INVALID_PARAMETER', '参数无效：out_trade_no');
      if (!b.subject) return business('ACQ.INVALID_PARAMETER', '参数无效：subject');
      if (total === undefined || total < 1) return business('ACQ.INVALID_PARAMETER', '参数无效：total_amount');
      const known = state.trades.get(b.out_trade_no);
      if (known) {
        if (known.status === 'TRADE_SUCCESS') return business('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
        if (known.status === 'TRADE_CLOSED') return business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
        if (known.total !== total) return business('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
        return ok(tradeIds(known));
      }
      return ok(tradeIds(state.addTrade({
        outTradeNo: b.out_trade_no, subject: b.subject, body: b.body, total,
        buyerId: b.buyer_id ?? b.buyer_open_id ?? `2088${crypto.randomInt(1e9, 1e10 - 1)}${crypto.randomInt(100, 999)}`, notifyUrl: p.notify_url,
      })));
    },
    'alipay.trade.query': (b) => {
      const t = trade(b);
      if (!t) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
      return ok({
        ...tradeIds(t), buyer_logon_id: t.buyerLogonId, trade_status: t.status, total_amount: yuan(t.total),
        buyer_pay_amount: t.paidAt ? yuan(t.total) : '0.00', receipt_amount: t.paidAt ? yuan(t.total) : '0.00', point_amount: '0.00', invoice_amount: t.paidAt ? yuan(t.total) : '0.00',
        ...(t.paidAt ? { send_pay_date: alipayTime(t.paidAt), fund_bill_list: [{ fund_channel: 'ALIPAYACCOUNT', amount: yuan(t.total) }] } : {}),
        buyer_user_id: t.buyerId,
      });
    },
    'alipay.trade.close': (b) => {
      const t = trade(b);
      if (!t) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
      if (t.status === 'TRADE_SUCCESS') return business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      t.status = 'TRADE_CLOSED';
      t.closedAt ??= new Date();
      return ok(tradeIds(t));
    },
    'alipay.trade.refund': (b) => {
      const t = trade(b);
      const amount = fen(b.refund_amount);
      if (amount === undefined || amount < 1) return business('ACQ.INVALID_PARAMETER', '参数无效：refund_amount');
      if (!t) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
      const outRequestNo = b.out_request_no ?? t.outTradeNo;
      const answer = (fundChange: 'Y' | 'N') => ok({
        ...tradeIds(t), buyer_logon_id: t.buyerLogonId, fund_change: fundChange,
        refund_fee: yuan(state.refundsOf(t).filter((r) => r.done).reduce((s, r) => s + r.refund, 0)),
        gmt_refund_pay: alipayTime(new Date()), buyer_user_id: t.buyerId,
      });
      const known = state.refundsOf(t).find((r) => r.outRequestNo === outRequestNo);
      // A retried out_request_no refunds nothing more: fund_change N tells the caller no money moved this time.
      if (known) return known.refund === amount ? answer('N') : business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      if (t.status !== 'TRADE_SUCCESS') return business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      if (amount > t.total - state.refunded(t)) return business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      const refund = state.addRefund(t, { outRequestNo, refund: amount, reason: b.refund_reason }, !g.takeRefundDeferral());
      return answer(refund.done ? 'Y' : 'N');
    },
    'alipay.trade.fastpay.refund.query': (b) => {
      const t = trade(b);
      if (!t) return business('ACQ.TRADE_NOT_EXIST', '交易不存在');
      const r = state.refundsOf(t).find((x) => x.outRequestNo === (b.out_request_no ?? t.outTradeNo));
      // An unknown or unfinished refund is still a Success answer, only without refund_status: callers must look for it.
      if (!r || !r.done) return ok({ ...tradeIds(t), out_request_no: b.out_request_no });
      return ok({
        ...tradeIds(t), out_request_no: r.outRequestNo, total_amount: yuan(t.total), refund_amount: yuan(r.refund),
        refund_status: 'REFUND_SUCCESS', gmt_refund_pay: alipayTime(r.refundedAt!), refund_reason: r.reason,
      });
    },
    'alipay.data.dataservice.bill.downloadurl.query': (b) => {
      if (b.bill_type !== 'trade' && b.bill_type !== 'signcustomer') return invalid('isv.invalid-parameter', '参数无效：bill_type');
      if (!/^\d{4}-\d{2}(-\d{2})?$/.test(b.bill_date ?? '')) return invalid('isv.invalid-parameter', '参数无效：bill_date');
      const date = b.bill_date!;
      const today = beijingDate(new Date());
      // The 账务明细 (signcustomer) bill is not simulated; a period not yet begun has no bill either.
      if (b.bill_type === 'signcustomer' || date > today.slice(0, date.length)) return business('isp.bill_not_exist', '账单不存在');
      // The running day or month is served as far as it goes (tests need not wait for T+1); a period over is frozen.
      const bill = frozen.get(date) ?? tradeBillZip(state, keys, date);
      if (!bill) return business('isp.bill_not_exist', '账单不存在');
      if (date < today.slice(0, date.length)) frozen.set(date, bill);
      const token = crypto.randomBytes(16).toString('hex');
      downloads.set(token, { ...bill, expires: Date.now() + DOWNLOAD_VALID_MS });
      const q = new URLSearchParams({
        bizType: 'trade', userId: `${keys.pid}0156`, fileType: 'csv.zip', bizDates: date.replace(/-/g, ''),
        downloadFileName: bill.fileName, fileId: crypto.randomBytes(12).toString('hex'), timestamp: String(Date.now()), token,
      });
      return ok({ bill_download_url: `${g.baseUrl()}/downloadBillFile.resource?${q}` });
    },
  };

  app.all('/gateway.do', (req, res) => {
    const failure = g.takeFailure();
    if (failure === 'timeout') return g.hold(res);
    if (failure === '500') return void res.status(500).type('text/html').send('<html><body><h1>500 Internal Server Error</h1></body></html>');
    const p: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...(req.query as object), ...(req.body as object) })) if (typeof v === 'string') p[k] = v;
    const run = Object.hasOwn(methods, p.method ?? '') ? methods[p.method] : undefined;
    const key = run ? `${p.method.replace(/\./g, '_')}_response` : 'error_response';
    const reply = (inner: Inner, signed: boolean) => {
      let body = signedAnswer(signed ? keys.alipay.privateKey : undefined, key, inner, failure === 'bad-signature');
      if (failure === 'malformed') body = body.slice(0, Math.floor(body.length / 2));
      res.status(200).type('application/json; charset=utf-8').send(body);
    };
    // Refusals of the common parameters come unsigned: the gateway has not established who is asking.
    if (!p.app_id) return reply(missing('isv.missing-app-id', '缺少AppID参数'), false);
    if (p.app_id !== keys.appId) return reply(invalid('isv.invalid-app-id', '无效的AppID参数'), false);
    if (!p.method) return reply(missing('isv.missing-method', '缺少方法名参数'), false);
    if (!run) return reply(invalid('isv.invalid-method', '不存在的方法名'), false);
    if (!p.sign) return reply(missing('isv.missing-signature', '缺少签名参数'), false);
    if (p.sign_type !== 'RSA2') return reply(invalid('isv.invalid-signature-type', '无效的签名类型'), false);
    if (p.charset && p.charset.toLowerCase() !== 'utf-8') return reply(invalid('isv.invalid-charset', '字符集错误，仅支持utf-8'), false);
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(p.timestamp ?? '')) return reply(invalid('isv.invalid-timestamp', '非法的时间戳参数'), false);
    const content = signContent(p, ['sign']);
    if (!rsa2Verify(keys.app.publicKey, content, p.sign)) {
      return reply(invalid('isv.invalid-signature', `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`), false);
    }
    let biz: Biz;
    try {
      biz = JSON.parse(p.biz_content ?? '{}') as Biz;
    } catch {
      return reply(invalid('isv.invalid-parameter', '参数无效：biz_content 不是合法的JSON'), true);
    }
    reply(run(biz, p), true);
  });

  app.get('/downloadBillFile.resource', (req, res) => {
    const d = downloads.get(String(req.query.token ?? ''));
    if (!d || d.expires < Date.now()) return void res.status(403).type('text/plain; charset=utf-8').send('链接已失效，请重新获取账单下载地址');
    res.status(200).type('application/octet-stream').set('Content-Disposition', `attachment; filename="${encodeURIComponent(d.fileName)}"`).send(d.zip);
  });
  return app;
}
