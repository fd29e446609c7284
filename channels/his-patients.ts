import { mllpListener } from '../adapters/mllp/mllp-listener';
import { hipSource } from '../adapters/soap/hip-source';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import type { ChannelDeps } from './channel-deps';
import { hl7v2Mapping, hl7v2Reason, messageCode } from './hl7v2-steps';
import { hl7v3Mapping } from './hl7v3-steps';
import { patientStore } from './patient-store-destination';

/**
 * HIS 个人信息注册 / 更新 / 合并 (PRPA_IN201311UV02, 201314UV02, 201304UV02), pushed by the HIS to the 互联互通
 * endpoint `/channels/his-patients` (HIPMessageServer). The EMPI rule (技术要求 10) is in the mapping: the EMPI id is
 * the primary identifier, and a registration whose ID number matches an existing patient updates that patient.
 */
export function hisPatients({ hospital, fhir }: ChannelDeps): ChannelDefinition {
  return channel({
    id: 'his-patients',
    description: 'HIS 个人信息注册/更新/合并 (HL7 v3, 互联互通 SOAP) into Patient',
    source: hipSource({ device: hospital.device, actions: ['PatientInfoRegister', 'PatientInfoUpdate', 'PatientInfoMerge'] }),
    transformer: hl7v3Mapping({ empiRoot: hospital.empiRoot }),
    destinations: [patientStore(fhir)],
  });
}

const adtContext = (deps: ChannelDeps) => ({ authoritySystems: deps.hospital.authorities });

/**
 * The HIS interface that speaks HL7 v2, over MLLP: the same patients as ADT^A01/A04/A08/A11/A28/A31/A40, and the
 * orders the HIS sends on the same connection as ORM^O01 (one ServiceRequest per ORC/OBR, keyed on the 医嘱号).
 */
export function hisPatientsAdt(deps: ChannelDeps): ChannelDefinition {
  const { port } = deps.hospital.channels.hisPatientsAdt;
  return channel({
    id: 'his-patients-adt',
    description: 'HIS ADT and ORM (HL7 v2 over MLLP) into Patient, Encounter and ServiceRequest; A40 merges',
    // after-processing: a message the mapping refuses is answered AE with the reason, so the HIS operator sees it.
    source: mllpListener({ port, charset: 'auto', ackTiming: 'after-processing' }, { reasonFor: hl7v2Reason(adtContext(deps)) }),
    filters: [messageCode('ADT', 'ORM')],
    transformer: hl7v2Mapping(adtContext(deps)),
    destinations: [patientStore(deps.fhir)],
  });
}
