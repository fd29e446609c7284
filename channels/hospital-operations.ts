import { bookingOperations } from '../fhir-resources/operations/booking/booking-operations';
import type { Operation } from '../fhir-resources/operations/operation';
import { paymentOperations } from '../fhir-resources/operations/payment/payment-operations';
import type { HospitalConfig } from './hospital-config';
import { medtechPlatform } from './medtech-booking';
import { paymentSetup, refundNotifyUrls } from './payment-setup';
import { refundOperations } from '../fhir-resources/operations/refund/refund-operations';

/**
 * The workflow operations the hospital's configuration turns on ($book needs the 医技预约 platform, $checkout the
 * payment channels …), handed to the FHIR module by the composition root. One entry per feature: an operation whose
 * peer is not configured is not offered, so the CapabilityStatement says what this site can really do.
 */
const OPERATIONS: ((hospital: HospitalConfig) => Operation[])[] = [
  (h) => (h.channels.medtechBooking.enabled ? bookingOperations(medtechPlatform(h)) : []),
  (h) => {
    if (!h.payments.enabled) return [];
    const setup = paymentSetup(h);
    return [...paymentOperations(setup), ...refundOperations({ gateways: setup.gateways, notifyUrl: refundNotifyUrls(setup) })];
  },
];

export function hospitalOperations(hospital: HospitalConfig): Operation[] {
  return OPERATIONS.flatMap((make) => make(hospital));
}
