import type { ChargeItem, Invoice, MedicationRequest, Patient, PaymentNotice, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { FhirEventMessage } from '../adapters/fhir/fhir-events-source';
import { fhirEventsSource } from '../adapters/fhir/fhir-events-source';
import { identifierWriteBack, isWriteBack, type WriteBackEnvelope } from '../adapters/fhir/identifier-write-back';
import { soapDestination } from '../adapters/soap/soap-destination';
import { channel, type ChannelDefinition, type ChannelMessage, type Filter } from '../engine/channel/channel';
import { TASK_CODE, TASK_CODE_SYSTEM } from '../fhir-resources/billing/billing-vocabulary';
import { acknowledgedReceiptNo, paymentToHisCharge, refundToHisRefund, type OutboundContext } from '../mappings/hl7v3';
import type { ChannelDeps } from './channel-deps';
import { outcomeText } from './outcome-text';

/**
 * Payments and refunds → the HIS, so that its books match what patients paid on line (fhir-resources/billing/README.md):
 * a PaymentNotice created by the after-payment workflow becomes 门诊收费 (OutpatientCharge) for its Invoice's
 * ChargeItems, a refund Task reaching `completed` becomes 门诊退费 (OutpatientRefund) for the ChargeItems its `input`
 * names. Both go to the HIS's 互联互通 service; an AE is a failed attempt, retried by the queue policy and then
 * dead-lettered for an operator. The 收据号 the HIS answers with is written back as an identifier on the
 * PaymentNotice / Task. The HIS is idempotent on out_trade_no / out_refund_no, so a retry or a later edit of a
 * completed Task (resent, being `completed` still) books nothing twice.
 */
const PAYMENT_PATHS = ['request.subject', 'request.lineItem.chargeItemReference.service'];
const REFUND_PATHS = ['focus.lineItem.chargeItemReference.service', 'for', 'input.valueReference.service'];

const eventOf = (message: ChannelMessage): FhirEventMessage => JSON.parse(message.content) as FhirEventMessage;

const isCompletedRefund = (r: Resource | undefined): r is Task =>
  r?.resourceType === 'Task' && r.status === 'completed' && r.code?.coding?.some((c) => c.system === TASK_CODE_SYSTEM && c.code === TASK_CODE.refund) === true;

const paymentOrCompletedRefund: Filter = {
  name: 'payment-or-completed-refund',
  accept: (m) => {
    const { event, resource } = eventOf(m);
    return (event.action === 'create' && resource?.resourceType === 'PaymentNotice') || isCompletedRefund(resource);
  },
};

/** The 收据号 write-back is a change of ours, not a new refund. */
const notOurWriteBack: Filter = { name: 'not-our-write-back', accept: (m) => !isWriteBack(eventOf(m).event.correlationId) };

function loaded<T extends Resource>(referenced: Record<string, Resource>, reference: string | undefined, type: T['resourceType'], what: string): T {
  const resource = referenced[reference ?? ''];
  if (resource?.resourceType !== type) throw new Error(`${what} ${reference ?? '(none)'} is not in the store`);
  return resource as T;
}

const ordersIn = (referenced: Record<string, Resource>): Record<string, MedicationRequest | ServiceRequest> =>
  Object.fromEntries(Object.entries(referenced).filter(([, r]) => r.resourceType === 'MedicationRequest' || r.resourceType === 'ServiceRequest')) as Record<string, MedicationRequest | ServiceRequest>;

function chargeItems(referenced: Record<string, Resource>, references: (string | undefined)[]): ChargeItem[] {
  return references.map((ref) => loaded<ChargeItem>(referenced, ref, 'ChargeItem', 'the charge'));
}

export function hisCharges({ hospital, bus, db, fhir }: ChannelDeps): ChannelDefinition {
  const settings = hospital.channels.hisCharges;
  return channel({
    id: 'his-charges',
    description: 'Payments (PaymentNotice) and completed refunds (Task) to the HIS as 门诊收费 / 门诊退费; the HIS 收据号 written back',
    source: fhirEventsSource(bus, db, fhir, { events: ['PaymentNotice.create', 'Task.update'], references: [...PAYMENT_PATHS, ...REFUND_PATHS] }),
    filters: [paymentOrCompletedRefund, notOurWriteBack],
    transformer: (message): WriteBackEnvelope => {
      const { resource, referenced = {} } = eventOf(message);
      const ctx: OutboundContext = {
        empiRoot: hospital.empiRoot, senderDevice: hospital.device, receiverDevice: hospital.hisDevice,
        // The channel message id and the version's time keep the mapping a function of the stored message.
        messageId: message.id, creationTime: resource?.meta?.lastUpdated ?? new Date(0).toISOString(),
      };
      let xml;
      if (resource?.resourceType === 'PaymentNotice') {
        const invoice = loaded<Invoice>(referenced, resource.request?.reference, 'Invoice', 'the paid invoice');
        const patient = loaded<Patient>(referenced, invoice.subject?.reference, 'Patient', "the invoice's patient");
        const items = chargeItems(referenced, (invoice.lineItem ?? []).map((l) => l.chargeItemReference?.reference));
        xml = paymentToHisCharge({ notice: resource as PaymentNotice, invoice, patient, chargeItems: items, orders: ordersIn(referenced) }, ctx);
      } else {
        const task = resource as Task;
        const invoice = loaded<Invoice>(referenced, task.focus?.reference, 'Invoice', 'the refunded invoice');
        const patient = loaded<Patient>(referenced, task.for?.reference ?? invoice.subject?.reference, 'Patient', "the refund's patient");
        const named = (task.input ?? []).map((i) => i.valueReference?.reference).filter((r) => r?.startsWith('ChargeItem/'));
        // A refund that names no lines is of the whole invoice.
        const items = chargeItems(referenced, named.length ? named : (invoice.lineItem ?? []).map((l) => l.chargeItemReference?.reference));
        xml = refundToHisRefund({ task, invoice, patient, chargeItems: items, orders: ordersIn(referenced) }, ctx);
      }
      if (typeof xml !== 'string') throw new Error(outcomeText(xml));
      return { payload: xml, about: `${resource!.resourceType}/${resource!.id}` };
    },
    destinations: [{
      name: 'his',
      connector: identifierWriteBack(
        soapDestination({
          wsdl: settings.wsdl, operation: 'HIPMessageServer', timeoutMs: settings.timeoutMs, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
          hipAction: { OutpatientChargeRequest: settings.chargeAction, OutpatientRefundRequest: settings.refundAction },
        }),
        fhir,
        acknowledgedReceiptNo,
      ),
      // One trade's 收费 and 退费 in order, even across retries: a 退费 overtaking its 收费 would be refused.
      orderBy: (m) => /<outTradeNo>([^<]+)<\/outTradeNo>/.exec((JSON.parse(m.content) as WriteBackEnvelope).payload)?.[1],
    }],
  });
}
