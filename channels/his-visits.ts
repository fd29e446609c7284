import { hipSource } from '../adapters/soap/hip-source';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { hl7v3Mapping } from './hl7v3-steps';
import { patientStore } from './patient-store-destination';

/**
 * HIS 门诊挂号 (PRPA_IN400001UV) and 门诊预约 (PRPA_IN410001UV) at `/channels/his-visits`: the visit as an Encounter
 * keyed by its 就诊流水号, the booking as an Appointment keyed by its 预约ID; a patient the HIS has not registered
 * with us yet is created from what the message says about them and completed by the later registration.
 */
export function hisVisits({ hospital, fhir }: ChannelDeps): ChannelDefinition {
  return channel({
    id: 'his-visits',
    description: 'HIS 门诊挂号/预约 (HL7 v3, 互联互通 SOAP) into Encounter and Appointment',
    source: hipSource({ device: hospital.device }),
    transformer: hl7v3Mapping({ empiRoot: hospital.empiRoot }),
    destinations: [patientStore(fhir)],
  });
}
