import { mllpListener } from '../adapters/mllp/mllp-listener';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { hl7v2Mapping, hl7v2Reason, messageCode } from './hl7v2-steps';
import { patientStore } from './patient-store-destination';

/**
 * 生殖中心 LIS, a second laboratory system with its own codes (性激素六项, AMH): ORU^R01 over MLLP. Its reports carry
 * the configured category besides their section, so that patients and the centre's doctors find them apart from
 * the main laboratory's: `DiagnosticReport?subject=Patient/x&category=<system>|<code>`.
 */
export function reproductiveCenterResults(deps: ChannelDeps): ChannelDefinition {
  const settings = deps.hospital.channels.reproductiveCenterResults;
  const context = { authoritySystems: deps.hospital.authorities, reportCategories: [settings.category] };
  return channel({
    id: 'reproductive-center-results',
    description: '生殖中心 LIS 检验结果 (ORU^R01 over MLLP) into DiagnosticReport, categorised 生殖中心',
    source: mllpListener({ port: settings.port, charset: 'auto', ackTiming: 'after-processing' }, { reasonFor: hl7v2Reason(context) }),
    filters: [messageCode('ORU')],
    transformer: hl7v2Mapping(context),
    destinations: [patientStore(deps.fhir)],
  });
}
