import { Operator } from '@medplum/core';
import type { Invoice } from '@medplum/fhirtypes';
import type { PaymentNotification } from '../../../adapters/payment/payment-gateway';
import type { PendingOrder } from '../../../adapters/payment/payment-query-source';
import { INVOICE_STATUS, OUT_REFUND_NO_SYSTEM, OUT_TRADE_NO_SYSTEM } from '../../billing/billing-vocabulary';
import { fenOf } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { findInvoice } from './invoice-lookup';
import { channelOf, identifierOf } from './invoice';
import { applyTradeStatus } from './payment-completion';

/**
 * The store's side of the payment channels: whether a notification is about an order we made (checked before it is
 * acknowledged), which orders the active query should ask about, and what a result does.
 */

/** A reason to refuse a genuine notification, or undefined. Refused ones are retried by the gateway, so only what can never be right is refused. */
export async function checkNotification(repo: Repository, n: PaymentNotification): Promise<string | undefined> {
  if (n.kind === 'refund') {
    const found = await repo.search({ resourceType: 'Task', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${OUT_REFUND_NO_SYSTEM}|${n.refund.outRefundNo}` }], count: 1 });
    return found.resources.length ? undefined : `no refund has out_refund_no ${n.refund.outRefundNo}`;
  }
  const invoice = await findInvoice(repo, OUT_TRADE_NO_SYSTEM, n.trade.outTradeNo);
  if (!invoice) return `no order has out_trade_no ${n.trade.outTradeNo}`;
  const total = fenOf(invoice.totalNet);
  if (n.trade.amountFen !== undefined && n.trade.amountFen !== total) return `amount ${n.trade.amountFen} is not the order's ${total}`;
  return undefined;
}

/** Unpaid orders older than `afterSeconds`; those older than the order's lifetime are expired. */
export async function pendingOrders(repo: Repository, afterSeconds: number, ttlMinutes: number, now = Date.now()): Promise<PendingOrder[]> {
  const before = new Date(now - afterSeconds * 1000).toISOString();
  const found = await repo.search({
    resourceType: 'Invoice',
    filters: [{ code: 'status', operator: Operator.EQUALS, value: INVOICE_STATUS.awaitingPayment }, { code: 'date', operator: Operator.LESS_THAN_OR_EQUALS, value: before }],
    count: 200,
  });
  return (found.resources as Invoice[]).flatMap((invoice) => {
    const channel = channelOf(invoice);
    const outTradeNo = identifierOf(invoice, OUT_TRADE_NO_SYSTEM);
    if ((channel !== 'wechatpay' && channel !== 'alipay') || !outTradeNo) return [];
    const expired = Date.parse(invoice.date ?? '') + ttlMinutes * 60_000 < now;
    return [{ channel, outTradeNo, expired }];
  });
}

export type RefundResultHandler = (repo: Repository, n: Extract<PaymentNotification, { kind: 'refund' }>) => Promise<string>;

/** Applies a notification or a query result; refund results go to the refund workflow. */
export function applyPaymentResult(payee: { display: string }, refunds?: RefundResultHandler) {
  return async (repo: Repository, n: PaymentNotification): Promise<string> => {
    if (n.kind === 'payment') return `${n.trade.outTradeNo}: ${await applyTradeStatus(repo, n.trade, payee)}`;
    if (!refunds) throw new Error(`refund result for ${n.refund.outRefundNo} arrived but the refund workflow is not configured`);
    return refunds(repo, n);
  };
}

/**
 * A prescription paid at the pharmacy (channel `pharmacy`) is paid when the pharmacy hands it over: the circulation
 * Task completed (核销) settles its Invoice like a gateway's SUCCESS would, with the Task as the transaction.
 */
export async function settlePharmacyPayment(repo: Repository, about: { outTradeNo: string; task: string; at?: string }, payee: { display: string }): Promise<string> {
  const invoice = await findInvoice(repo, OUT_TRADE_NO_SYSTEM, about.outTradeNo);
  if (!invoice) return `${about.outTradeNo}: no Invoice`;
  if (channelOf(invoice) !== 'pharmacy') return `${about.outTradeNo}: paid online, nothing to settle`;
  const outcome = await applyTradeStatus(repo, {
    outTradeNo: about.outTradeNo, state: 'SUCCESS', amountFen: fenOf(invoice.totalNet), transactionId: `PHARMACY-${about.task.replace('/', '-')}`,
    ...(about.at ? { paidAt: about.at } : {}),
  }, payee);
  return `${about.outTradeNo}: ${outcome}`;
}
