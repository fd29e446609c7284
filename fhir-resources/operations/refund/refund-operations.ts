import type { Operation } from '../operation';
import { approveRefundOperation, rejectRefundOperation } from './refund-approval';
import type { RefundChannels } from './refund-sending';
import { requestRefundOperation } from './request-refund';

/**
 * The refund operations, built with the payment gateways they refund through: `Invoice/{id}/$request-refund`,
 * `Task/$approve-refund`, `Task/$reject-refund`. The notification channels call applyRefundResult (refund-result.ts)
 * and schedule pollRefunds (refund-poll.ts).
 */
export function refundOperations(channels: RefundChannels): Operation[] {
  return [requestRefundOperation(channels), approveRefundOperation(channels), rejectRefundOperation()];
}

export { applyRefundResult, refundTaskByNumber, type RefundResultApplied } from './refund-result';
export { pollRefunds, type PollRefundsOptions, type PollRefundsReport } from './refund-poll';
export type { RefundGateways, RefundChannels } from './refund-sending';
