import { fhirWorkflow } from '../adapters/fhir/fhir-workflow-destination';
import { httpSource } from '../adapters/http/http-source';
import type { MedtechBookingPlatform } from '../adapters/medtech-booking/medtech-booking-api';
import { MedtechBookingClient } from '../adapters/medtech-booking/medtech-booking-client';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import { applyPlatformCancellation } from '../fhir-resources/operations/booking/platform-cancellation';
import { cancellationNotice } from '../mappings/medtech-booking/cancellation-notice';
import type { ChannelDeps } from './channel-deps';
import type { HospitalConfig } from './hospital-config';
import { jsonMapping } from './json-steps';

const clients = new WeakMap<HospitalConfig['channels']['medtechBooking'], MedtechBookingClient>();

/** The 医技预约 platform as configured: one client (one connection pool) for the channels and the operations. */
export function medtechPlatform(hospital: HospitalConfig): () => MedtechBookingPlatform {
  const settings = hospital.channels.medtechBooking;
  return () => {
    let client = clients.get(settings);
    if (!client) clients.set(settings, client = new MedtechBookingClient({ url: settings.url, token: settings.token, timeoutMs: settings.timeoutMs }));
    return client;
  };
}

/**
 * The 医技预约 platform's notices at `/channels/medtech-booking/notify` (bearer: the token it was issued): a booking it
 * cancelled itself (停诊) becomes a cancelled Appointment whose reason the patient sees, and the Slot its new state.
 */
export function medtechBooking({ hospital, fhir }: ChannelDeps): ChannelDefinition {
  return channel({
    id: 'medtech-booking',
    description: '医技预约平台 停诊 notices → Appointment cancelled',
    source: httpSource({ path: '/notify', body: 'json', auth: { type: 'bearer', value: hospital.channels.medtechBooking.token } }),
    transformer: jsonMapping(cancellationNotice),
    destinations: [{ name: 'fhir-store', connector: fhirWorkflow(fhir, applyPlatformCancellation) }],
  });
}
