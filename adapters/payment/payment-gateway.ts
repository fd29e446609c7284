/**
 * What Lingshu asks of a payment channel (WeChat Pay APIv3, Alipay): create, query and close an order, refund and
 * query a refund, and read the gateway's notifications. Amounts are integers in 分 on this side of the interface;
 * each implementation converts at its edge (Alipay speaks 元). Errors: `PaymentGatewayError` (the gateway answered,
 * with its code and message) or a transport error (no usable answer: retry later, query to find out).
 */

/** How the payer pays: the mini program / 公众号 (JSAPI, needs the openid), a mobile browser (H5), Alipay's app / wap. */
export type PaymentScene = 'jsapi' | 'h5' | 'app' | 'wap';

export interface CreateOrderRequest {
  outTradeNo: string;
  /** 商品描述, shown to the payer (zh-CN), e.g. "桃源院区 处方缴费". */
  description: string;
  amountFen: number;
  notifyUrl: string;
  scene: PaymentScene;
  payer: { openid?: string; clientIp?: string; alipayUserId?: string };
  /** When the order stops being payable; the gateway closes it afterwards. */
  expiresAt?: Date;
  attach?: string;
}

export interface CreatedOrder {
  outTradeNo: string;
  /**
   * What the front end needs to start the payment, as name → value: JSAPI `appId, timeStamp, nonceStr, package,
   * signType, paySign` (signed by the merchant key), H5 `h5Url`, Alipay `tradeNo` / `orderString`.
   */
  clientParameters: Record<string, string>;
}

/** WeChat's trade_state; Alipay's trade_status mapped onto it (TRADE_SUCCESS/TRADE_FINISHED → SUCCESS, WAIT_BUYER_PAY → NOTPAY, TRADE_CLOSED → CLOSED). */
export type TradeState = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED' | 'PAYERROR';

export interface TradeStatus {
  outTradeNo: string;
  state: TradeState;
  /** The gateway's own number (微信订单号 / 支付宝交易号), once there is one. */
  transactionId?: string;
  /** What was ordered / paid, in 分. */
  amountFen?: number;
  /** ISO 8601. */
  paidAt?: string;
  /** The merchant (mchid / seller id) and app (appid / app_id) the gateway says the trade belongs to. */
  merchantId?: string;
  appId?: string;
  payerId?: string;
}

export interface RefundRequest {
  outTradeNo: string;
  outRefundNo: string;
  refundFen: number;
  /** The order's total in 分 (WeChat wants it with every refund). */
  totalFen: number;
  reason?: string;
  notifyUrl?: string;
}

export type RefundState = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

export interface RefundStatus {
  outRefundNo: string;
  outTradeNo: string;
  state: RefundState;
  refundFen: number;
  refundId?: string;
  successAt?: string;
}

export type PaymentNotification =
  | { kind: 'payment'; notificationId?: string; trade: TradeStatus }
  | { kind: 'refund'; notificationId?: string; refund: RefundStatus };

/** A notification as it arrived: the raw body bytes matter, signatures are over them. */
export interface NotificationRequest {
  headers: Record<string, string | undefined>;
  body: Buffer;
  contentType?: string;
}

/** The answer a gateway expects: WeChat decides by status alone (200/204 ok, 4xx/5xx retry), Alipay by the text `success`. */
export interface NotificationAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface PaymentGateway {
  readonly channel: 'wechatpay' | 'alipay';
  readonly merchantId: string;
  readonly appId: string;
  createOrder(request: CreateOrderRequest): Promise<CreatedOrder>;
  /** An order the gateway does not know is answered as state NOTPAY without transactionId. */
  queryOrder(outTradeNo: string): Promise<TradeStatus>;
  closeOrder(outTradeNo: string): Promise<void>;
  /** Idempotent on outRefundNo: sending the same refund again returns the refund already made. */
  refund(request: RefundRequest): Promise<RefundStatus>;
  queryRefund(outRefundNo: string, outTradeNo: string): Promise<RefundStatus>;
  /** Verifies the signature (and decrypts); throws NotificationRefused naming why when it cannot be trusted. */
  parseNotification(request: NotificationRequest): PaymentNotification;
  /** `ok` false: the gateway must deliver again later. */
  notificationAnswer(ok: boolean, message?: string): NotificationAnswer;
}

export class PaymentGatewayError extends Error {
  constructor(readonly channel: string, readonly status: number, readonly code: string, message: string) {
    super(`${channel} refused: ${code} ${message}`);
  }
}

export class NotificationRefused extends Error {
  constructor(readonly reason: 'signature' | 'timestamp' | 'decrypt' | 'malformed', message: string) {
    super(message);
  }
}
