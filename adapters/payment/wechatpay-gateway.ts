import { z } from 'zod';
import { beijingRfc3339 } from './beijing-time';
import {
  CreatedOrder, CreateOrderRequest, NotificationAnswer, NotificationRequest, PaymentGateway, PaymentGatewayError,
  PaymentNotification, RefundRequest, RefundStatus, TradeStatus,
} from './payment-gateway';
import { GatewayReply, PaymentHttp, PaymentTransportError } from './payment-http';
import { privateKeyOf, publicKeyOf, readSecret, secretSourceSchema } from './payment-key-material';
import { firstIssue, refundStatusOf, tradeStatusOf, wechatRefund, wechatTransaction } from './wechatpay-objects';
import { parseWechatNotification } from './wechatpay-notification';
import { authorization, jsapiParameters, MerchantKey, PlatformKey, verifyWechatpaySignature } from './wechatpay-signing';

export const wechatPayConfigSchema = z.object({
  baseUrl: z.string().url().default('https://api.mch.weixin.qq.com'),
  /** 商户号 */
  mchid: z.string().min(1),
  /** The 公众号 / 小程序 appid bound to the merchant. */
  appid: z.string().min(1),
  /** Serial of the 商户API证书, and its private key (apiclient_key.pem). */
  merchantSerial: z.string().min(1),
  merchantPrivateKey: secretSourceSchema,
  /** 微信支付公钥ID (PUB_KEY_ID_…) or 平台证书 serial, and that public key or certificate. */
  platformSerial: z.string().min(1),
  platformPublicKey: secretSourceSchema,
  /** APIv3 密钥, 32 characters: decrypts notifications. */
  apiV3Key: secretSourceSchema,
  timeoutMs: z.number().int().min(1).default(10_000),
}).strict();

export type WechatPayConfig = z.input<typeof wechatPayConfigSchema>;

const CHANNEL = 'wechatpay';
const errorBody = z.object({ code: z.string(), message: z.string().optional() });
const prepay = z.object({ prepay_id: z.string().min(1) });
const h5 = z.object({ h5_url: z.string().min(1) });

/**
 * WeChat Pay APIv3 for one merchant and app: every request signed with the merchant key, every answer verified with
 * the platform key before a byte of it is believed (formats.md 1.1–1.4). Amounts are 分 on both sides.
 */
export class WechatPayGateway implements PaymentGateway {
  readonly channel = CHANNEL;
  readonly merchantId: string;
  readonly appId: string;
  private readonly baseUrl: string;
  private readonly merchant: MerchantKey;
  private readonly platform: PlatformKey;
  private readonly apiV3Key: string;
  private readonly http: PaymentHttp;

  constructor(config: WechatPayConfig) {
    const c = wechatPayConfigSchema.parse(config);
    this.merchantId = c.mchid;
    this.appId = c.appid;
    this.baseUrl = c.baseUrl.replace(/\/+$/, '');
    this.merchant = { mchid: c.mchid, serial: c.merchantSerial, privateKey: privateKeyOf(readSecret(c.merchantPrivateKey, 'WeChat Pay merchant private key'), 'WeChat Pay merchant private key') };
    this.platform = { serial: c.platformSerial, publicKey: publicKeyOf(readSecret(c.platformPublicKey, 'WeChat Pay platform public key'), 'WeChat Pay platform public key') };
    this.apiV3Key = readSecret(c.apiV3Key, 'WeChat Pay APIv3 key').trim();
    if (Buffer.byteLength(this.apiV3Key) !== 32) throw new Error('WeChat Pay APIv3 key: must be 32 bytes');
    this.http = new PaymentHttp(CHANNEL, c.timeoutMs);
  }

  /** JSAPI (公众号 / 小程序, needs payer.openid) or H5 (mobile browser, needs payer.clientIp). */
  async createOrder(r: CreateOrderRequest): Promise<CreatedOrder> {
    if (r.scene !== 'jsapi' && r.scene !== 'h5') throw new Error(`WeChat Pay: scene ${r.scene} is not offered; use jsapi or h5`);
    if (!Number.isSafeInteger(r.amountFen) || r.amountFen < 1) throw new Error(`WeChat Pay: amount ${r.amountFen} 分 is not a positive integer`);
    const body = {
      appid: this.appId, mchid: this.merchantId, description: r.description, out_trade_no: r.outTradeNo,
      ...(r.expiresAt ? { time_expire: beijingRfc3339(r.expiresAt) } : {}),
      ...(r.attach ? { attach: r.attach } : {}),
      notify_url: r.notifyUrl,
      amount: { total: r.amountFen, currency: 'CNY' },
    };
    if (r.scene === 'jsapi') {
      if (!r.payer.openid) throw new Error('WeChat Pay: a JSAPI order needs the payer openid');
      const answer = await this.call('POST', '/v3/pay/transactions/jsapi', { ...body, payer: { openid: r.payer.openid } }, prepay);
      return { outTradeNo: r.outTradeNo, clientParameters: jsapiParameters(this.merchant, this.appId, answer.prepay_id) };
    }
    if (!r.payer.clientIp) throw new Error('WeChat Pay: an H5 order needs the payer client IP');
    const answer = await this.call('POST', '/v3/pay/transactions/h5', { ...body, scene_info: { payer_client_ip: r.payer.clientIp, h5_info: { type: 'Wap' } } }, h5);
    return { outTradeNo: r.outTradeNo, clientParameters: { h5Url: answer.h5_url } };
  }

  async queryOrder(outTradeNo: string): Promise<TradeStatus> {
    try {
      const t = await this.call('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.merchantId)}`, undefined, wechatTransaction);
      return tradeStatusOf(t);
    } catch (err) {
      if (err instanceof PaymentGatewayError && err.code === 'ORDER_NOT_EXIST') return { outTradeNo, state: 'NOTPAY' };
      throw err;
    }
  }

  async closeOrder(outTradeNo: string): Promise<void> {
    await this.call('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`, { mchid: this.merchantId }, undefined);
  }

  async refund(r: RefundRequest): Promise<RefundStatus> {
    const body = {
      out_trade_no: r.outTradeNo, out_refund_no: r.outRefundNo,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.notifyUrl ? { notify_url: r.notifyUrl } : {}),
      amount: { refund: r.refundFen, total: r.totalFen, currency: 'CNY' },
    };
    return refundStatusOf(await this.call('POST', '/v3/refund/domestic/refunds', body, wechatRefund));
  }

  /** WeChat Pay finds a refund by out_refund_no alone. */
  async queryRefund(outRefundNo: string, _outTradeNo?: string): Promise<RefundStatus> {
    return refundStatusOf(await this.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`, undefined, wechatRefund));
  }

  parseNotification(request: NotificationRequest): PaymentNotification {
    return parseWechatNotification(this.platform, this.apiV3Key, request);
  }

  /** WeChat Pay reads the status alone: 204 acknowledges, a 5xx makes it deliver again (formats.md 1.3). */
  notificationAnswer(ok: boolean, message = '失败'): NotificationAnswer {
    if (ok) return { status: 204, contentType: 'application/json', body: '' };
    return { status: 500, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ code: 'FAIL', message }) };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /**
   * One signed exchange. The answer's signature is checked before anything else, so a forged or altered answer is
   * never parsed; a 2xx body is then validated against `shape` (none for 204 answers).
   */
  private async call<T>(method: 'GET' | 'POST', pathAndQuery: string, body: object | undefined, shape: z.ZodType<T>): Promise<T>;
  private async call(method: 'GET' | 'POST', pathAndQuery: string, body: object | undefined, shape: undefined): Promise<void>;
  private async call<T>(method: 'GET' | 'POST', pathAndQuery: string, body: object | undefined, shape: z.ZodType<T> | undefined): Promise<T | void> {
    const url = `${this.baseUrl}${pathAndQuery}`;
    const signedPath = new URL(url).pathname + new URL(url).search;
    const text = body === undefined ? '' : JSON.stringify(body);
    const reply = await this.http.send(method, url, {
      authorization: authorization(this.merchant, method, signedPath, text),
      accept: 'application/json',
      'user-agent': 'lingshu-wechatpay/1',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    }, body === undefined ? undefined : text);
    const what = `${method} ${pathAndQuery.split('?')[0]}`;
    this.verify(reply, what);
    if (reply.status >= 300) throw this.refusal(reply, what);
    if (!shape) return;
    const parsed = shape.safeParse(this.json(reply, what));
    if (!parsed.success) throw new PaymentTransportError(CHANNEL, 'malformed', `${what}: answer does not match the API (${firstIssue(parsed.error)})`);
    return parsed.data;
  }

  private verify(reply: GatewayReply, what: string): void {
    const problem = verifyWechatpaySignature(this.platform, (n) => reply.headers[n], reply.body);
    if (problem) throw new PaymentTransportError(CHANNEL, 'signature', `${what}: answer refused, ${problem.message} (HTTP ${reply.status})`);
  }

  private json(reply: GatewayReply, what: string): unknown {
    try {
      return JSON.parse(reply.body.toString('utf8'));
    } catch {
      throw new PaymentTransportError(CHANNEL, 'malformed', `${what}: answer is not JSON (HTTP ${reply.status}, ${reply.body.length} bytes)`);
    }
  }

  private refusal(reply: GatewayReply, what: string): Error {
    const e = errorBody.safeParse(this.json(reply, what));
    if (!e.success) return new PaymentTransportError(CHANNEL, 'malformed', `${what}: HTTP ${reply.status} without code and message`);
    return new PaymentGatewayError(CHANNEL, reply.status, e.data.code, e.data.message ?? '');
  }
}
