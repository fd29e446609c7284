import iconv from 'iconv-lite';
import { fenOfYuan } from '../../fhir-resources/billing/money';
import { isoOfBeijingText } from './beijing-time';
import { NotificationRefused, NotificationRequest, PaymentNotification, TradeState } from './payment-gateway';
import { decodeForm, rsa2Verify, signContent } from './alipay-signing';
import type { KeyObject } from 'node:crypto';

/**
 * Alipay's trade_status as a TradeState. TRADE_CLOSED covers both an unpaid trade closed and a paid trade refunded in
 * full; the second is REFUND, as WeChat Pay says of a refunded order, so that nobody reads it as "never paid".
 */
export function tradeStateOf(status: string, paid: boolean): TradeState | undefined {
  switch (status) {
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'SUCCESS';
    case 'WAIT_BUYER_PAY':
      return 'NOTPAY';
    case 'TRADE_CLOSED':
      return paid ? 'REFUND' : 'CLOSED';
    default:
      return undefined;
  }
}

/** The charset the form is in: the Content-Type's, else the `charset` field Alipay puts in the form itself. */
function charsetOf(request: NotificationRequest): string {
  const declared = /charset\s*=\s*"?([^";\s]+)/i.exec(request.contentType ?? '')?.[1] ?? decodeForm(request.body, 'latin1').charset ?? 'utf-8';
  return iconv.encodingExists(declared) ? declared : 'utf-8';
}

/**
 * An Alipay asynchronous notification (formats.md 2.2): form fields decoded, `sign` and `sign_type` left out, the rest
 * sorted and checked with RSA2 against the Alipay public key before any field is believed; the signature is over the
 * string's bytes in the notification's charset (as Alipay's SDK checks it), so a GBK notification verifies as GBK.
 * A notification carrying a refund (out_biz_no = out_request_no, refund_fee, gmt_refund) is a refund; otherwise it
 * reports the trade.
 *
 * Alipay's refund notification gives refund_fee, the trade's refunded total so far, not the amount of this one refund;
 * it is what `refund.refundFen` carries. After partial refunds, ask queryRefund for the amount of one.
 */
export function parseAlipayNotification(alipayPublicKey: KeyObject, request: NotificationRequest): PaymentNotification {
  const charset = charsetOf(request);
  const p = decodeForm(request.body, charset);
  if (!p.sign) throw new NotificationRefused('signature', 'the notification has no sign');
  if (p.sign_type && p.sign_type !== 'RSA2') throw new NotificationRefused('signature', `sign_type ${p.sign_type.slice(0, 10)} is not accepted; RSA2 only`);
  if (!rsa2Verify(alipayPublicKey, signContent(p, ['sign', 'sign_type']), p.sign, charset)) {
    throw new NotificationRefused('signature', 'sign does not verify with the Alipay public key');
  }
  if (!p.out_trade_no) throw new NotificationRefused('malformed', 'out_trade_no is missing');
  const state = tradeStateOf(p.trade_status ?? '', Boolean(p.gmt_payment));
  if (!state) throw new NotificationRefused('malformed', `trade_status ${(p.trade_status ?? '(none)').slice(0, 30)} is not known`);

  if (p.out_biz_no || p.gmt_refund || p.refund_fee) {
    const refundFen = fenOfYuan(p.refund_fee ?? '');
    if (refundFen === undefined) throw new NotificationRefused('malformed', 'refund_fee is not an amount in 元');
    return {
      kind: 'refund',
      notificationId: p.notify_id,
      refund: {
        outRefundNo: p.out_biz_no || p.out_trade_no, outTradeNo: p.out_trade_no, state: 'SUCCESS', refundFen,
        successAt: isoOfBeijingText(p.gmt_refund),
      },
    };
  }
  const amountFen = fenOfYuan(p.total_amount ?? '');
  if (amountFen === undefined) throw new NotificationRefused('malformed', 'total_amount is not an amount in 元');
  return {
    kind: 'payment',
    notificationId: p.notify_id,
    trade: {
      outTradeNo: p.out_trade_no, state, transactionId: p.trade_no || undefined, amountFen,
      paidAt: isoOfBeijingText(p.gmt_payment), merchantId: p.seller_id || undefined, appId: p.app_id || undefined,
      payerId: p.buyer_id || p.buyer_open_id || undefined,
    },
  };
}
