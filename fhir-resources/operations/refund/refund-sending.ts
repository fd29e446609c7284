import type { Invoice, Task } from '@medplum/fhirtypes';
import { PaymentGatewayError, type PaymentGateway, type RefundRequest, type RefundStatus } from '../../../adapters/payment/payment-gateway';
import { childLogger } from '../../../engine/logger';
import { PAYMENT_CHANNEL_EXTENSION, type PaymentChannelCode } from '../../billing/billing-vocabulary';
import { fenOf } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { applyRefundResult, failRefund } from './refund-result';
import { outRefundNoOf, outTradeNoOf, refundAmountOf, refundReasonOf } from './refund-task';

const log = childLogger({ component: 'refunds' });

/** The payment gateways by channel (adapters/payment/payment-gateways.ts builds them from the configuration). */
export type RefundGateways = Readonly<Partial<Record<PaymentChannelCode, PaymentGateway>>>;

export interface RefundChannels {
  gateways: RefundGateways;
  /** Where the channel sends its refund notification: one URL, or one per channel (`/channels/wechatpay/notify`…). */
  notifyUrl?: string | ((channel: PaymentChannelCode) => string | undefined) | Readonly<Partial<Record<PaymentChannelCode, string>>>;
}

/** What became of one refund call. */
export type RefundSent =
  | { kind: 'answered'; status: RefundStatus; task: Task }
  | { kind: 'refused'; reason: string; task: Task }
  /** No usable answer (timeout, connection, garbled): the Task stays 退款中 and pollRefunds asks again later. */
  | { kind: 'unanswered'; reason: string; task: Task };

/** WeChat's refund reason is at most 80 characters. */
const REASON_MAX = 80;

export function channelOf(invoice: Invoice): PaymentChannelCode | undefined {
  return invoice.extension?.find((e) => e.url === PAYMENT_CHANNEL_EXTENSION)?.valueCode as PaymentChannelCode | undefined;
}

export function refundRequestOf(task: Task, invoice: Invoice, notifyUrl: RefundChannels['notifyUrl'], channel: PaymentChannelCode): RefundRequest {
  const url = typeof notifyUrl === 'string' ? notifyUrl : typeof notifyUrl === 'function' ? notifyUrl(channel) : notifyUrl?.[channel];
  const reason = refundReasonOf(task);
  return {
    outTradeNo: outTradeNoOf(invoice) ?? '',
    outRefundNo: outRefundNoOf(task) ?? '',
    refundFen: refundAmountOf(task),
    totalFen: fenOf(invoice.totalNet) ?? 0,
    ...(reason ? { reason: [...reason].slice(0, REASON_MAX).join('') } : {}),
    ...(url ? { notifyUrl: url } : {}),
  };
}

/**
 * Asks the Invoice's payment channel to refund what the Task says, under the Task's out_refund_no (the channel makes
 * one refund per number, so sending again is safe), and applies the answer: a refund result through
 * applyRefundResult, a refusal (PaymentGatewayError) as `failed` / abnormal with the channel's reason in a note.
 */
export async function sendRefund(repo: Repository, channels: RefundChannels, task: Task, invoice: Invoice): Promise<RefundSent> {
  const channel = channelOf(invoice);
  const gateway = channel ? channels.gateways[channel] : undefined;
  if (!channel || !gateway) {
    const reason = `账单的支付渠道（${channel ?? '未记录'}）没有可用的退款接口，请线下退款`;
    return { kind: 'refused', reason, task: (await failRefund(repo, task.id!, 'abnormal', reason)).task ?? task };
  }
  const request = refundRequestOf(task, invoice, channels.notifyUrl, channel);
  let status: RefundStatus;
  try {
    status = await gateway.refund(request);
  } catch (err) {
    if (err instanceof PaymentGatewayError) {
      const reason = `支付渠道拒绝退款：${err.message}`;
      log.warn('refund refused by the channel', { task: `Task/${task.id}`, outRefundNo: request.outRefundNo, channel, code: err.code, status: err.status });
      return { kind: 'refused', reason, task: (await failRefund(repo, task.id!, 'abnormal', reason)).task ?? task };
    }
    log.warn('refund call unanswered; the active query will ask again', { task: `Task/${task.id}`, outRefundNo: request.outRefundNo, channel, error: (err as Error).message });
    return { kind: 'unanswered', reason: (err as Error).message, task };
  }
  const applied = await applyRefundResult(repo, status);
  return { kind: 'answered', status, task: applied.task ?? task };
}
