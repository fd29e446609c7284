import { Operator } from '@medplum/core';
import type { ChargeItem, Invoice, Organization, PaymentNotice, Reference, Task } from '@medplum/fhirtypes';
import type { TradeStatus } from '../../../adapters/payment/payment-gateway';
import {
  CHARGE_STATUS, CIRCULATION_STATUS, CIRCULATION_TASK_SYSTEM, INVOICE_STATUS, OUT_TRADE_NO_SYSTEM, PHARMACY_EXTENSION,
  PICKUP_CODE_SYSTEM, TASK_BUSINESS_STATUS_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM, TRANSACTION_ID_SYSTEM,
} from '../../billing/billing-vocabulary';
import { fenOf, money } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { lockOf } from './bill-items';
import { findInvoice } from './invoice-lookup';
import { identifierOf, invoiceChargeItems, withLock } from './invoice';
import { cancelInvoice } from './invoice-cancel';
import { newPickupCode } from './payment-numbers';
import { voucherOf } from './voucher';

export type PaymentOutcome = 'paid' | 'already-paid' | 'cancelled' | 'not-final' | 'paid-after-cancel';

/**
 * What a payment channel says about an order becomes the store's state — from the notification, the active query
 * or the pharmacy, however often and in whatever order they arrive. A SUCCESS pays the Invoice once: it is balanced
 * and given a pickup code, its ChargeItems billed, a PaymentNotice and a voucher written, and a prescription handed to
 * circulation (Task); the HIS 收费 follows from the PaymentNotice's event. CLOSED / REVOKED cancel an unpaid Invoice.
 * Anything else changes nothing. The Invoice update carries If-Match, so of two deliveries racing only one pays.
 */
export async function applyTradeStatus(elevated: Repository, trade: TradeStatus, payee: { display: string }): Promise<PaymentOutcome> {
  const invoice = await findInvoice(elevated, OUT_TRADE_NO_SYSTEM, trade.outTradeNo);
  if (!invoice) throw new Error(`no Invoice has out_trade_no ${trade.outTradeNo}`);
  if (trade.state === 'CLOSED' || trade.state === 'REVOKED') {
    if (invoice.status !== INVOICE_STATUS.awaitingPayment) return invoice.status === INVOICE_STATUS.paid ? 'already-paid' : 'cancelled';
    await cancelInvoice(elevated, invoice, '支付订单已关闭');
    return 'cancelled';
  }
  if (trade.state !== 'SUCCESS' && trade.state !== 'REFUND') return 'not-final';
  if (invoice.status === INVOICE_STATUS.paid) return 'already-paid';
  const total = fenOf(invoice.totalNet);
  if (trade.amountFen !== undefined && trade.amountFen !== total) {
    throw new Error(`paid amount ${trade.amountFen} differs from Invoice/${invoice.id} total ${total} (out_trade_no ${trade.outTradeNo})`);
  }
  const items = await invoiceChargeItems(elevated, invoice);
  const lateAfterCancel = invoice.status === INVOICE_STATUS.cancelled;
  // Paid after the Invoice was given up: honoured when nothing else paid the items meanwhile, else it needs a refund.
  if (lateAfterCancel && items.some((c) => c.status !== CHARGE_STATUS.unpaid || (lockOf(c) && lockOf(c) !== `Invoice/${invoice.id}`))) {
    throw new Error(`out_trade_no ${trade.outTradeNo} was paid after its Invoice/${invoice.id} was cancelled and its items were paid otherwise: refund it by hand`);
  }
  const paidAt = trade.paidAt ?? new Date().toISOString();
  // A pharmacy-paid Invoice got its pickup code at checkout (the pharmacy needed it to hand the drugs over).
  const known = identifierOf(invoice, PICKUP_CODE_SYSTEM);
  const pickupCode = known ?? await freshPickupCode(elevated);
  const { resource: paid } = await elevated.update<Invoice>({
    ...invoice,
    status: INVOICE_STATUS.paid,
    identifier: [...(invoice.identifier ?? []), ...(known ? [] : [{ system: PICKUP_CODE_SYSTEM, value: pickupCode }])],
  }, { ifMatch: invoice.meta?.versionId });
  for (const item of items) {
    await elevated.update<ChargeItem>({ ...withLock(item, undefined), status: CHARGE_STATUS.paid }, { ifMatch: item.meta?.versionId });
  }
  await elevated.create<PaymentNotice>(paymentNoticeOf(paid, trade, total ?? 0, paidAt, payee), {
    ifNoneExist: `identifier=${OUT_TRADE_NO_SYSTEM}|${trade.outTradeNo}`,
  });
  await elevated.create(voucherOf(paid, trade.outTradeNo, pickupCode, total ?? 0, paidAt));
  const prescriptions = items.flatMap((c) => c.service ?? []).map((s) => s.reference ?? '').filter((r) => r.startsWith('MedicationRequest/'));
  if (prescriptions.length) await startCirculation(elevated, paid, prescriptions, trade.outTradeNo, pickupCode);
  return lateAfterCancel ? 'paid-after-cancel' : 'paid';
}

export async function freshPickupCode(elevated: Repository): Promise<string> {
  for (;;) {
    const code = newPickupCode();
    const taken = await elevated.search({ resourceType: 'Invoice', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${PICKUP_CODE_SYSTEM}|${code}` }], count: 1 });
    if (taken.resources.length === 0) return code;
  }
}

function paymentNoticeOf(invoice: Invoice, trade: TradeStatus, totalFen: number, paidAt: string, payee: { display: string }): PaymentNotice {
  return {
    resourceType: 'PaymentNotice',
    status: 'active',
    identifier: [
      { system: OUT_TRADE_NO_SYSTEM, value: trade.outTradeNo },
      ...(trade.transactionId ? [{ system: TRANSACTION_ID_SYSTEM, value: trade.transactionId }] : []),
    ],
    request: { reference: `Invoice/${invoice.id}` },
    created: paidAt,
    paymentDate: paidAt.slice(0, 10),
    // The channel's transaction: a PaymentReconciliation of the day links it once the bill is reconciled.
    payment: { identifier: { system: TRANSACTION_ID_SYSTEM, value: trade.transactionId ?? trade.outTradeNo }, display: identifierOf(invoice, OUT_TRADE_NO_SYSTEM) },
    recipient: { display: payee.display },
    amount: money(totalFen),
    paymentStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/paymentstatus', code: 'paid', display: '已支付' }] },
  };
}

/** The prescription goes to the chosen pharmacy: once per order (the Task's identifier is the out_trade_no). */
export async function startCirculation(elevated: Repository, invoice: Invoice, prescriptions: string[], outTradeNo: string, pickupCode: string): Promise<void> {
  await elevated.create<Task>(circulationTaskOf(invoice, prescriptions, outTradeNo, pickupCode, new Date().toISOString()), {
    ifNoneExist: `identifier=${CIRCULATION_TASK_SYSTEM}|${outTradeNo}`,
  });
}

function circulationTaskOf(invoice: Invoice, prescriptions: string[], outTradeNo: string, pickupCode: string, at: string): Task {
  const pharmacy = invoice.extension?.find((e) => e.url === PHARMACY_EXTENSION)?.valueReference;
  return {
    resourceType: 'Task',
    identifier: [{ system: CIRCULATION_TASK_SYSTEM, value: outTradeNo }],
    status: 'requested',
    businessStatus: { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code: 'pending-review', display: CIRCULATION_STATUS['pending-review'] }], text: CIRCULATION_STATUS['pending-review'] },
    intent: 'order',
    code: { coding: [{ system: TASK_CODE_SYSTEM, code: TASK_CODE.circulation, display: '处方流转' }] },
    focus: { reference: `Invoice/${invoice.id}` },
    basedOn: [...new Set(prescriptions)].map((reference) => ({ reference })),
    for: invoice.subject,
    authoredOn: at,
    ...(pharmacy ? { owner: pharmacy as Reference<Organization> } : {}),
    input: [{ type: { text: 'pickupCode' }, valueString: pickupCode }],
  };
}

