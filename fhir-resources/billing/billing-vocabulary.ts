import { codeSystem, identifierSystem, structureDefinition } from '../profiles/lingshu-canonical';

/**
 * The names the billing, payment, refund and circulation workflow shares (issue 6): identifier systems, extensions,
 * task codes and the states each resource passes through. Channels, operations and the ops UI all read these, so
 * they live in one place; see README.md beside this file for the whole model.
 */
const sid = identifierSystem;
const extension = structureDefinition;

/** 处方号: MedicationRequest.groupIdentifier; the drugs of one prescription share it and are paid together. */
export const PRESCRIPTION_NO_SYSTEM = sid('prescription-no');
/** The HIS 收费项目 code of a charge (ChargeItem.code). */
export const CHARGE_CODE_SYSTEM = sid('his-charge-item');

/** Invoice.identifier: the merchant order number sent to the payment channel (out_trade_no); one per Invoice. */
export const OUT_TRADE_NO_SYSTEM = sid('out-trade-no');
/** Invoice.identifier: `<Patient id>|<clientKey>` of the $checkout that made it, so a retried checkout finds it. */
export const CHECKOUT_KEY_SYSTEM = sid('checkout-key');
/** Invoice.identifier once paid: 取药码 / 凭据码, shown at the pharmacy and redeemed once ($redeem). */
export const PICKUP_CODE_SYSTEM = sid('pickup-code');
/** PaymentNotice.identifier and PaymentNotice.payment.identifier: the channel's transaction id (微信订单号, 支付宝交易号). */
export const TRANSACTION_ID_SYSTEM = sid('payment-transaction-id');
/** Task(refund).identifier: the out_refund_no sent to the channel; one refund per number however often it is sent. */
export const OUT_REFUND_NO_SYSTEM = sid('out-refund-no');

/** On Money: the amount in 分 (integer). Computation reads this, never the decimal `value` (money.ts). */
export const AMOUNT_FEN_EXTENSION = extension('amount-fen');
/** On ChargeItem: unit price (valueMoney); `priceOverride` is the line's amount = unit price × quantity. */
export const UNIT_PRICE_EXTENSION = extension('unit-price');
/** On ChargeItem while an issued Invoice covers it: valueReference to that Invoice (the lock against double payment). */
export const CHARGE_LOCK_EXTENSION = extension('charge-lock');
/** On Invoice: valueCode of the payment channel (`wechatpay`, `alipay`, `pharmacy`). */
export const PAYMENT_CHANNEL_EXTENSION = extension('payment-channel');
/** On Invoice: valueReference to the Organization (pharmacy) chosen for the prescriptions in it. */
export const PHARMACY_EXTENSION = extension('dispensing-pharmacy');
/** On Invoice: valueMoney, what has been refunded of it so far. */
export const REFUNDED_AMOUNT_EXTENSION = extension('refunded-amount');

/** On Invoice once its pickup code was redeemed at the pharmacy window: valueDateTime (makes $redeem happen once). */
export const REDEEMED_EXTENSION = extension('pickup-redeemed');
/** Task(circulation).identifier: the Invoice's out_trade_no, so that a payment creates its circulation once. */
export const CIRCULATION_TASK_SYSTEM = sid('circulation-task');
/** DocumentReference.type of a payment voucher (缴费凭据). */
export const VOUCHER_TYPE = { system: codeSystem('document-type'), code: 'payment-voucher', display: '缴费凭据' } as const;

/** Task.code system for the workflow tasks. */
export const TASK_CODE_SYSTEM = codeSystem('workflow-task');
export const TASK_CODE = { circulation: 'circulation', refund: 'refund' } as const;

/** Task.businessStatus system; the codes below with their zh-CN display. */
export const TASK_BUSINESS_STATUS_SYSTEM = codeSystem('workflow-task-status');

/** 处方流转 states (formats.md §5): 待审方 → 审方通过/驳回 → 已流转 → 待取药/配送中 → 已取药 → 已撤销/已过期. */
export const CIRCULATION_STATUS = {
  'pending-review': '待审方',
  approved: '审方通过',
  rejected: '审方驳回',
  circulated: '已流转',
  'awaiting-pickup': '待取药',
  delivering: '配送中',
  'picked-up': '已取药',
  cancelled: '已撤销',
  expired: '已过期',
} as const;

/** Refund states: 待审核 → 已驳回 | 退款中 → 退款成功 | 退款关闭 | 退款异常. */
export const REFUND_STATUS = {
  'awaiting-approval': '待审核',
  rejected: '已驳回',
  refunding: '退款中',
  succeeded: '退款成功',
  closed: '退款关闭',
  abnormal: '退款异常',
} as const;

export type CirculationStatus = keyof typeof CIRCULATION_STATUS;
export type RefundStatus = keyof typeof REFUND_STATUS;

/**
 * ChargeItem.status as the workflow uses it: `billable` 待缴费, `billed` 已缴费, `not-billable` 已退费 (refunded),
 * `aborted` the order was cancelled before payment.
 */
export const CHARGE_STATUS = { unpaid: 'billable', paid: 'billed', refunded: 'not-billable', cancelled: 'aborted' } as const;

/**
 * Invoice.status: `issued` while waiting for payment (its ChargeItems locked), `balanced` once paid, `cancelled` when
 * the payment order was closed or expired (locks released).
 */
export const INVOICE_STATUS = { awaitingPayment: 'issued', paid: 'balanced', cancelled: 'cancelled' } as const;

export const PAYMENT_CHANNELS = ['wechatpay', 'alipay', 'pharmacy'] as const;
export type PaymentChannelCode = (typeof PAYMENT_CHANNELS)[number];

/** Organization.identifier of a pharmacy (院内药房 or 社会药房): the code the hospital's configuration names it by. */
export const PHARMACY_CODE_SYSTEM = sid('pharmacy-code');
/** Organization.type of every pharmacy a prescription can go to: `GET /fhir/Organization?type=<system>|pharmacy`. */
export const ORGANIZATION_TYPE_SYSTEM = codeSystem('organization-type');
export const ORGANIZATION_TYPE = { pharmacy: 'pharmacy' } as const;
/** Task(circulation).identifier: the prescription number sent to the platform or pharmacy (hosp_rxno / rxNo). */
export const CIRCULATION_RX_NO_SYSTEM = sid('circulation-rx-no');
/** Task(circulation).output types: the numbers the peer answered with (hi-rxno, rx-trace-code, pharmacy-order-id). */
export const CIRCULATION_OUTPUT_SYSTEM = codeSystem('circulation-output');
/** MedicationDispense.identifier: the drug's 药品追溯码 as the pharmacy scanned it at 核销. */
export const DRUG_TRACE_CODE_SYSTEM = sid('drug-trace-code');
/** MedicationDispense.identifier: `<Task id>/<MedicationRequest id>`, so a 核销 reported twice dispenses once. */
export const CIRCULATION_DISPENSE_SYSTEM = sid('circulation-dispense');
/** On MedicationDispense: valueString, the manufacturer's lot (生产批号) of what was handed over. */
export const LOT_NUMBER_EXTENSION = extension('lot-number');
