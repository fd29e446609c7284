import { mllpListener } from '../adapters/mllp/mllp-listener';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { hl7v2Mapping, hl7v2Reason, messageCode } from './hl7v2-steps';
import { patientStore } from './patient-store-destination';

/**
 * LIS 检验结果: ORU^R01 over MLLP (GBK or UTF-8 as MSH-18 says) into DiagnosticReport + Observation, on the patient
 * the HIS registered (PID-3's authority maps to the same identifier system). A result the mapping refuses (no
 * MSH-9, a bad date, an oversized OBX-5) is answered AE naming the field and kept with status error.
 */
export function lisResults(deps: ChannelDeps): ChannelDefinition {
  const context = { authoritySystems: deps.hospital.authorities };
  return channel({
    id: 'lis-results',
    description: 'LIS 检验结果 (ORU^R01 over MLLP) into DiagnosticReport + Observation',
    source: mllpListener({ port: deps.hospital.channels.lisResults.port, charset: 'auto', ackTiming: 'after-processing' }, { reasonFor: hl7v2Reason(context) }),
    filters: [messageCode('ORU')],
    transformer: hl7v2Mapping(context),
    destinations: [patientStore(deps.fhir)],
  });
}
