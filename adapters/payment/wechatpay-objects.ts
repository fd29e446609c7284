import { z } from 'zod';
import type { RefundStatus, TradeStatus } from './payment-gateway';

/** The transaction object of the query API and of the TRANSACTION.SUCCESS resource (formats.md 1.3). */
export const wechatTransaction = z.object({
  appid: z.string().optional(),
  mchid: z.string().optional(),
  out_trade_no: z.string().min(1),
  transaction_id: z.string().optional(),
  trade_state: z.enum(['NOTPAY', 'USERPAYING', 'SUCCESS', 'REFUND', 'CLOSED', 'REVOKED', 'PAYERROR']),
  success_time: z.string().optional(),
  payer: z.object({ openid: z.string().optional() }).optional(),
  amount: z.object({ total: z.number().int().optional(), payer_total: z.number().int().optional() }).optional(),
});

export function tradeStatusOf(t: z.infer<typeof wechatTransaction>): TradeStatus {
  return {
    outTradeNo: t.out_trade_no,
    state: t.trade_state,
    transactionId: t.transaction_id || undefined,
    amountFen: t.amount?.total,
    paidAt: t.success_time || undefined,
    merchantId: t.mchid,
    appId: t.appid,
    payerId: t.payer?.openid,
  };
}

const refundState = z.enum(['PROCESSING', 'SUCCESS', 'CLOSED', 'ABNORMAL']);
const refundAmount = z.object({ refund: z.number().int(), total: z.number().int().optional() });

/** The refund object of POST /v3/refund/domestic/refunds and of the refund query (formats.md 1.4). */
export const wechatRefund = z.object({
  refund_id: z.string().optional(),
  out_refund_no: z.string().min(1),
  out_trade_no: z.string().min(1),
  status: refundState,
  success_time: z.string().optional(),
  amount: refundAmount,
});

/** The decrypted resource of REFUND.* notifications: refund_status instead of status, and the mchid. */
export const wechatRefundNotice = z.object({
  mchid: z.string().optional(),
  out_trade_no: z.string().min(1),
  out_refund_no: z.string().min(1),
  refund_id: z.string().optional(),
  refund_status: refundState,
  success_time: z.string().optional(),
  amount: refundAmount,
});

export function refundStatusOf(r: z.infer<typeof wechatRefund>): RefundStatus {
  return {
    outRefundNo: r.out_refund_no,
    outTradeNo: r.out_trade_no,
    state: r.status,
    refundFen: r.amount.refund,
    refundId: r.refund_id,
    successAt: r.success_time || undefined,
  };
}

/** A zod failure in a few words: which field, what was wrong. */
export function firstIssue(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join('.') || '(root)'}: ${i.message}` : err.message;
}
