import { mllpListener } from '../adapters/mllp/mllp-listener';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { hl7v2Mapping, hl7v2Reason, messageCode } from './hl7v2-steps';
import { patientStore } from './patient-store-destination';

/**
 * PACS 检查报告: ORU^R01 over MLLP into an imaging DiagnosticReport; the findings and impression are its
 * observations and the image link (OBX type RP) its presented form.
 */
export function pacsReports(deps: ChannelDeps): ChannelDefinition {
  const context = { authoritySystems: deps.hospital.authorities };
  return channel({
    id: 'pacs-reports',
    description: 'PACS 检查报告 (ORU^R01 over MLLP) into DiagnosticReport',
    source: mllpListener({ port: deps.hospital.channels.pacsReports.port, charset: 'auto', ackTiming: 'after-processing' }, { reasonFor: hl7v2Reason(context) }),
    filters: [messageCode('ORU')],
    transformer: hl7v2Mapping(context),
    destinations: [patientStore(deps.fhir)],
  });
}
