import type { PaymentNotification } from '../adapters/payment/payment-gateway';
import { paymentNotifySource } from '../adapters/payment/payment-notify-source';
import { paymentQuerySource } from '../adapters/payment/payment-query-source';
import { fhirWorkflow } from '../adapters/fhir/fhir-workflow-destination';
import { channel, type ChannelDefinition, type OutboundMessage } from '../engine/channel/channel';
import type { Task } from '@medplum/fhirtypes';
import { fhirEventsSource, type FhirEventMessage } from '../adapters/fhir/fhir-events-source';
import { CIRCULATION_TASK_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM } from '../fhir-resources/billing/billing-vocabulary';
import { applyPaymentResult, checkNotification, pendingOrders, settlePharmacyPayment } from '../fhir-resources/operations/payment/payment-results';
import { applyRefundResult, pollRefunds } from '../fhir-resources/operations/refund/refund-operations';
import type { ChannelDeps } from './channel-deps';
import { paymentSetup, refundNotifyUrls } from './payment-setup';

/** One order's (or refund's) results are applied in arrival order, so a duplicate waits for the first and finds it done. */
const byOrder = (m: OutboundMessage): string => m.correlationId;

/**
 * The payment channels: each gateway's notifications at POST /channels/<gateway>/notify (verified, checked against our
 * order, stored, then acknowledged), and `payment-query` asking the gateways about orders whose notification has not
 * come. Both end in the same idempotent step that pays the Invoice (fhir-resources/operations/payment).
 */
export function paymentChannels(deps: ChannelDeps): ChannelDefinition[] {
  const setup = paymentSetup(deps.hospital);
  const refunds = async (repo: Parameters<typeof applyRefundResult>[0], n: { refund: Parameters<typeof applyRefundResult>[1] }) => JSON.stringify(await applyRefundResult(repo, n.refund));
  const apply = fhirWorkflow<PaymentNotification>(deps.fhir, applyPaymentResult(setup.payee, refunds));
  const notify = Object.values(setup.gateways).map((gateway) => channel({
    id: gateway.channel,
    description: `${gateway.channel === 'wechatpay' ? '微信支付' : '支付宝'} payment and refund notifications into Invoice / PaymentNotice / refund Task`,
    source: paymentNotifySource({ gateway, check: (n) => checkNotification(deps.fhir(), n) }),
    destinations: [{ name: 'fhir-store', connector: apply, orderBy: byOrder }],
  }));
  const p = deps.hospital.payments;
  const query = channel({
    id: 'payment-query',
    description: 'Asks the payment gateways about unpaid orders and refunds whose notification has not come; closes expired orders',
    source: paymentQuerySource({
      gateways: setup.gateways, cron: p.query.cron,
      pending: () => pendingOrders(deps.fhir(), p.query.afterSeconds, p.orderTtlMinutes),
      // Refunds 退款中 whose notification has not come are asked about in the same run (refund-poll.ts).
      alsoEachRun: () => pollRefunds(deps.fhir(), setup.gateways, { olderThanMs: p.query.afterSeconds * 1000, notifyUrl: refundNotifyUrls(setup) }),
    }),
    destinations: [{ name: 'fhir-store', connector: apply, orderBy: byOrder }],
  });
  return [...notify, query, pharmacyPayments(deps)];
}

const taskOf = (content: string): Task | undefined => (JSON.parse(content) as FhirEventMessage).resource as Task | undefined;
const isCirculationDone = (t: Task | undefined): t is Task => !!t && t.status === 'completed'
  && !!t.code?.coding?.some((c) => c.system === TASK_CODE_SYSTEM && c.code === TASK_CODE.circulation);

/** Prescriptions paid at the pharmacy are settled when the pharmacy's 核销 completes their circulation Task. */
function pharmacyPayments(deps: ChannelDeps): ChannelDefinition {
  const setup = paymentSetup(deps.hospital);
  return channel({
    id: 'pharmacy-payments',
    description: 'Settles Invoices paid at the pharmacy when the pharmacy hands the drugs over (circulation Task completed)',
    source: fhirEventsSource(deps.bus, deps.db, deps.fhir, { events: ['Task.update'] }),
    filters: [{ name: 'circulation-completed', accept: (m) => isCirculationDone(taskOf(m.content)) }],
    transformer: (m) => {
      const task = taskOf(m.content)!;
      const outTradeNo = task.identifier?.find((i) => i.system === CIRCULATION_TASK_SYSTEM)?.value;
      if (!outTradeNo) throw new Error(`circulation Task/${task.id} has no order number`);
      return { outTradeNo, task: `Task/${task.id}`, at: task.lastModified };
    },
    destinations: [{
      name: 'fhir-store',
      connector: fhirWorkflow<{ outTradeNo: string; task: string; at?: string }>(deps.fhir, (repo, about) => settlePharmacyPayment(repo, about, setup.payee)),
      orderBy: byOrder,
    }],
  });
}

