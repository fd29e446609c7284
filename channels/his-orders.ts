import type { Patient, ServiceRequest } from '@medplum/fhirtypes';
import type { FhirEventMessage } from '../adapters/fhir/fhir-events-source';
import { fhirEventsSource } from '../adapters/fhir/fhir-events-source';
import { identifierWriteBack, isWriteBack, type WriteBackEnvelope } from '../adapters/fhir/identifier-write-back';
import { hipSource } from '../adapters/soap/hip-source';
import { soapDestination } from '../adapters/soap/soap-destination';
import { keepPaymentState } from '../fhir-resources/billing/charge-item-resend';
import { channel, type ChannelDefinition, type ChannelMessage, type Filter } from '../engine/channel/channel';
import { acknowledgedOrderNumber, isOrderMadeInLingshu, orderForHis, serviceRequestsToPoor } from '../mappings/hl7v3';
import type { ChannelDeps } from './channel-deps';
import { hl7v3Mapping } from './hl7v3-steps';
import { outcomeText } from './outcome-text';
import { patientStore } from './patient-store-destination';

/**
 * HIS 医嘱 / 申请单 新增 and 更新 (POOR_IN200901UV / 200902UV) at `/channels/his-orders`: one ServiceRequest per
 * ordered item, keyed by the HIS 医嘱 ID, so an update or a resend finds the order it is about.
 */
export function hisOrders({ hospital, fhir }: ChannelDeps): ChannelDefinition {
  return channel({
    id: 'his-orders',
    description: 'HIS 医嘱/申请单 (HL7 v3, 互联互通 SOAP) into ServiceRequest',
    source: hipSource({ device: hospital.device }),
    transformer: hl7v3Mapping({ empiRoot: hospital.empiRoot }),
    // A resent order must not undo a payment made in Lingshu (charge-item-resend.ts).
    destinations: [patientStore(fhir, { prepare: keepPaymentState })],
  });
}

const eventOf = (message: ChannelMessage): FhirEventMessage => JSON.parse(message.content) as FhirEventMessage;

/** Orders a doctor made in Lingshu; those the HIS sent us are the HIS's own and never echoed back to it. */
const madeInLingshu: Filter = {
  name: 'made-in-lingshu',
  accept: (m) => {
    const { resource } = eventOf(m);
    return resource?.resourceType === 'ServiceRequest' && isOrderMadeInLingshu(resource);
  },
};

/** The write-back of the HIS 医嘱号 is a change of ours, not news for the HIS. */
const notOurWriteBack: Filter = { name: 'not-our-write-back', accept: (m) => !isWriteBack(eventOf(m).event.correlationId) };

/**
 * Orders made in Lingshu (a doctor's ServiceRequest through the FHIR API) → the HIS as 申请单 新增 / 更新
 * (POOR_IN200901UV / 200902UV) over its 互联互通 SOAP service; the 医嘱号 the HIS answers with is written back onto
 * the ServiceRequest as its filler identifier, which is how later changes become 更新 and how the HIS's own
 * messages about the order find it. Events of one order stay in version order.
 */
export function hisOrdersOut({ hospital, bus, db, fhir }: ChannelDeps): ChannelDefinition {
  const settings = hospital.channels.hisOrdersOut;
  return channel({
    id: 'his-orders-out',
    description: 'Orders made in Lingshu (ServiceRequest) to the HIS as POOR_IN200901UV/200902UV; the HIS 医嘱号 written back',
    source: fhirEventsSource(bus, db, fhir, { events: ['ServiceRequest.create', 'ServiceRequest.update'], references: ['subject'] }),
    filters: [madeInLingshu, notOurWriteBack],
    transformer: (message): WriteBackEnvelope => {
      const { resource, referenced } = eventOf(message);
      const order = resource as ServiceRequest;
      const patient = referenced?.[order.subject?.reference ?? ''] as Patient | undefined;
      if (!patient) throw new Error(`the order's patient ${order.subject?.reference ?? '(none)'} is not in the store`);
      const { request, interaction } = orderForHis(order, settings.placerPrefix);
      const xml = serviceRequestsToPoor({ requests: [request], patient }, interaction, {
        empiRoot: hospital.empiRoot, senderDevice: hospital.device, receiverDevice: hospital.hisDevice,
        // The channel message id and the version's time keep the mapping a function of the stored message.
        messageId: message.id, creationTime: order.meta?.lastUpdated ?? new Date(0).toISOString(),
      });
      if (typeof xml !== 'string') throw new Error(outcomeText(xml));
      return { payload: xml, about: `ServiceRequest/${order.id}` };
    },
    destinations: [{
      name: 'his',
      connector: identifierWriteBack(
        soapDestination({ wsdl: settings.wsdl, operation: 'HIPMessageServer', hipAction: settings.hipAction, timeoutMs: settings.timeoutMs, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) }),
        fhir,
        acknowledgedOrderNumber,
      ),
      orderBy: (m) => (JSON.parse(m.content) as WriteBackEnvelope).about,
    }],
  });
}
