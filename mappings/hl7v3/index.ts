// HL7 v3 (互联互通) ⇄ FHIR R4 mappings: pure functions, no I/O. README.md beside this file describes the EMPI rule.
export { hl7v3ToBundle, INBOUND_INTERACTIONS } from './hl7v3-inbound';
export { acknowledgementFor, buildAcknowledgement, readAcknowledgement, type Acknowledgement, type AckTypeCode } from './acknowledgement';
export { patientToRegistration, patientMergeToV3, type RegistrationInteraction } from './patient-registry';
export { buildPatientQuery, buildPatientQueryResponse } from './patient-query';
export { serviceRequestsToPoor, type OrderInteraction, type OrderMessageInput } from './order-outbound';
export { acknowledgedOrderNumber, isHisFillerNumber, isOrderMadeInLingshu, orderForHis } from './order-numbers';
export { patientMatch, empiSystem } from './patient-identity';
export { parseV3 } from './v3-document';
export { readTransmissionOrOutcome, type Transmission } from './transmission-wrapper';
export type { InboundContext, OutboundContext } from './mapping-context';
export { acknowledgedReceiptNo, paymentToHisCharge, refundToHisRefund, type ChargeMessageInput, type RefundMessageInput } from './outpatient-charge';
