import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { fenOfYuan, yuanText } from '../../fhir-resources/billing/money';
import { beijingText, isoOfBeijingText } from './beijing-time';
import { parseAlipayNotification, tradeStateOf } from './alipay-notification';
import { responseText, rsa2Sign, rsa2Verify, signContent } from './alipay-signing';
import {
  CreatedOrder, CreateOrderRequest, NotificationAnswer, NotificationRequest, PaymentGateway, PaymentGatewayError,
  PaymentNotification, RefundRequest, RefundStatus, TradeStatus,
} from './payment-gateway';
import { PaymentHttp, PaymentTransportError } from './payment-http';
import { privateKeyOf, publicKeyOf, readSecret, secretSourceSchema } from './payment-key-material';

export const alipayConfigSchema = z.object({
  gatewayUrl: z.string().url().default('https://openapi.alipay.com/gateway.do'),
  /** The application's APPID. */
  appId: z.string().min(1),
  /** The merchant's PID (2088…), the seller_id of its trades. */
  pid: z.string().min(1),
  /** 应用私钥: signs requests. */
  appPrivateKey: secretSourceSchema,
  /** 支付宝公钥: verifies answers and notifications. */
  alipayPublicKey: secretSourceSchema,
  timeoutMs: z.number().int().min(1).default(10_000),
}).strict();

export type AlipayConfig = z.input<typeof alipayConfigSchema>;

const CHANNEL = 'alipay';
const SUCCESS = '10000';

type Answer = Record<string, unknown> & { code?: string; msg?: string; sub_code?: string; sub_msg?: string };
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Alipay OpenAPI for one application (`gateway.do`, RSA2 both ways). Amounts cross this edge as 元 text and are
 * converted with yuanText / fenOfYuan, never through floating point.
 */
export class AlipayGateway implements PaymentGateway {
  readonly channel = CHANNEL;
  readonly merchantId: string;
  readonly appId: string;
  private readonly gatewayUrl: string;
  private readonly appKey: KeyObject;
  private readonly alipayKey: KeyObject;
  private readonly http: PaymentHttp;

  constructor(config: AlipayConfig) {
    const c = alipayConfigSchema.parse(config);
    this.appId = c.appId;
    this.merchantId = c.pid;
    this.gatewayUrl = c.gatewayUrl;
    this.appKey = privateKeyOf(readSecret(c.appPrivateKey, 'Alipay app private key'), 'Alipay app private key');
    this.alipayKey = publicKeyOf(readSecret(c.alipayPublicKey, 'Alipay public key'), 'Alipay public key');
    this.http = new PaymentHttp(CHANNEL, c.timeoutMs);
  }

  /**
   * alipay.trade.create makes the trade on every scene (it is what query, close and refund act on). jsapi (小程序)
   * needs payer.alipayUserId and gets `tradeNo` for my.tradePay; app gets the signed `orderString` the app SDK takes,
   * wap (and h5) the same for alipay.trade.wap.pay plus `payUrl`, the gateway URL to send the browser to.
   */
  async createOrder(r: CreateOrderRequest): Promise<CreatedOrder> {
    if (!Number.isSafeInteger(r.amountFen) || r.amountFen < 1) throw new Error(`Alipay: amount ${r.amountFen} 分 is not a positive integer`);
    if (r.scene === 'jsapi' && !r.payer.alipayUserId) throw new Error('Alipay: a jsapi (小程序) trade needs the payer alipayUserId');
    const biz = {
      out_trade_no: r.outTradeNo, total_amount: yuanText(r.amountFen), subject: r.description,
      ...(r.payer.alipayUserId ? { buyer_id: r.payer.alipayUserId } : {}),
      ...(r.expiresAt ? { time_expire: beijingText(r.expiresAt) } : {}),
      ...(r.attach ? { passback_params: encodeURIComponent(r.attach) } : {}),
    };
    const created = await this.call('alipay.trade.create', { ...biz, product_code: 'JSAPI_PAY' }, r.notifyUrl);
    const tradeNo = text(created.trade_no);
    if (!tradeNo) throw new PaymentTransportError(CHANNEL, 'malformed', 'alipay.trade.create: answer without trade_no');
    if (r.scene === 'jsapi') return { outTradeNo: r.outTradeNo, clientParameters: { tradeNo } };
    const method = r.scene === 'app' ? 'alipay.trade.app.pay' : 'alipay.trade.wap.pay';
    const productCode = r.scene === 'app' ? 'QUICK_MSECURITY_PAY' : 'QUICK_WAP_WAY';
    const orderString = new URLSearchParams(this.signed(method, { ...biz, product_code: productCode }, r.notifyUrl)).toString();
    return {
      outTradeNo: r.outTradeNo,
      clientParameters: r.scene === 'app' ? { tradeNo, orderString } : { tradeNo, orderString, payUrl: `${this.gatewayUrl}?${orderString}` },
    };
  }

  async queryOrder(outTradeNo: string): Promise<TradeStatus> {
    let a: Answer;
    try {
      a = await this.call('alipay.trade.query', { out_trade_no: outTradeNo });
    } catch (err) {
      if (err instanceof PaymentGatewayError && err.code === 'ACQ.TRADE_NOT_EXIST') return { outTradeNo, state: 'NOTPAY' };
      throw err;
    }
    const paidAt = isoOfBeijingText(text(a.send_pay_date));
    const state = tradeStateOf(text(a.trade_status) ?? '', Boolean(paidAt));
    const amountFen = fenOfYuan(text(a.total_amount) ?? '');
    if (!state || amountFen === undefined) throw new PaymentTransportError(CHANNEL, 'malformed', `alipay.trade.query: trade_status ${String(a.trade_status)} / total_amount ${String(a.total_amount)} not understood`);
    return { outTradeNo, state, transactionId: text(a.trade_no), amountFen, paidAt, payerId: text(a.buyer_user_id) ?? text(a.buyer_open_id) };
  }

  async closeOrder(outTradeNo: string): Promise<void> {
    await this.call('alipay.trade.close', { out_trade_no: outTradeNo });
  }

  /**
   * out_request_no = outRefundNo, so a retry refunds nothing more. fund_change Y means the money moved now; N means it
   * did not move in this call (already refunded by an earlier call, or accepted and not yet paid out), and only the
   * refund query tells which.
   */
  async refund(r: RefundRequest): Promise<RefundStatus> {
    const a = await this.call('alipay.trade.refund', {
      out_trade_no: r.outTradeNo, refund_amount: yuanText(r.refundFen), out_request_no: r.outRefundNo,
      ...(r.reason ? { refund_reason: r.reason } : {}),
    });
    if (a.fund_change === 'Y') {
      return { outRefundNo: r.outRefundNo, outTradeNo: r.outTradeNo, state: 'SUCCESS', refundFen: r.refundFen, successAt: isoOfBeijingText(text(a.gmt_refund_pay)) };
    }
    return { ...(await this.queryRefund(r.outRefundNo, r.outTradeNo)), refundFen: r.refundFen };
  }

  /** No refund_status in the answer: not (yet) refunded, PROCESSING; refundFen is then 0, Alipay does not say. */
  async queryRefund(outRefundNo: string, outTradeNo: string): Promise<RefundStatus> {
    const a = await this.call('alipay.trade.fastpay.refund.query', { out_trade_no: outTradeNo, out_request_no: outRefundNo, query_options: ['gmt_refund_pay'] });
    const done = a.refund_status === 'REFUND_SUCCESS';
    return {
      outRefundNo, outTradeNo, state: done ? 'SUCCESS' : 'PROCESSING',
      refundFen: fenOfYuan(text(a.refund_amount) ?? '') ?? 0,
      successAt: done ? isoOfBeijingText(text(a.gmt_refund_pay)) : undefined,
    };
  }

  parseNotification(request: NotificationRequest): PaymentNotification {
    return parseAlipayNotification(this.alipayKey, request);
  }

  /** Alipay reads the body: the plain text `success` acknowledges, anything else is delivered again (formats.md 2.2). */
  notificationAnswer(ok: boolean): NotificationAnswer {
    return ok ? { status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' } : { status: 500, contentType: 'text/plain; charset=utf-8', body: 'fail' };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** The common parameters with biz_content, signed with the app key. */
  private signed(method: string, biz: object, notifyUrl?: string): Record<string, string> {
    const params: Record<string, string> = {
      app_id: this.appId, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2',
      timestamp: beijingText(new Date()), version: '1.0', ...(notifyUrl ? { notify_url: notifyUrl } : {}),
      biz_content: JSON.stringify(biz),
    };
    return { ...params, sign: rsa2Sign(this.appKey, signContent(params, ['sign'])) };
  }

  /**
   * One gateway call. The answer's `<method>_response` text is verified with the Alipay public key before it is
   * believed; only a refusal may come unsigned (Alipay does not sign refusals of the common parameters).
   */
  private async call(method: string, biz: object, notifyUrl?: string): Promise<Answer> {
    const reply = await this.http.send('POST', this.gatewayUrl, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/json' }, new URLSearchParams(this.signed(method, biz, notifyUrl)).toString());
    const body = reply.body.toString('utf8');
    let whole: { sign?: unknown };
    try {
      whole = JSON.parse(body) as { sign?: unknown };
    } catch {
      throw new PaymentTransportError(CHANNEL, 'malformed', `${method}: answer is not JSON (HTTP ${reply.status}, ${reply.body.length} bytes)`);
    }
    const inner = responseText(body, `${method.replace(/\./g, '_')}_response`) ?? responseText(body, 'error_response');
    if (!inner) throw new PaymentTransportError(CHANNEL, 'malformed', `${method}: answer has no ${method.replace(/\./g, '_')}_response (HTTP ${reply.status})`);
    const a = JSON.parse(inner) as Answer;
    if (typeof whole.sign === 'string') {
      if (!rsa2Verify(this.alipayKey, inner, whole.sign)) throw new PaymentTransportError(CHANNEL, 'signature', `${method}: answer refused, sign does not verify with the Alipay public key`);
    } else if (a.code === SUCCESS) {
      throw new PaymentTransportError(CHANNEL, 'signature', `${method}: answer refused, a success without sign`);
    }
    if (a.code !== SUCCESS) throw new PaymentGatewayError(CHANNEL, reply.status, a.sub_code ?? a.code ?? 'UNKNOWN', a.sub_msg ?? a.msg ?? '');
    return a;
  }
}
