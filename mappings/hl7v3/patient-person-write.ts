import type { Extension, Identifier, Patient } from '@medplum/fhirtypes';
import {
  CODE_SYSTEM_OIDS, ETHNICITY_EXTENSION, gbGenderFromFhir, chinaCodeDisplay, GENDER_SYSTEM, ID_DOCUMENT_TYPE_SYSTEM,
  MARITAL_STATUS_SYSTEM, NATIONALITY_EXTENSION, OCCUPATION_EXTENSION, RESIDENT_ID_SYSTEM, ETHNICITY_SYSTEM, OCCUPATION_SYSTEM,
  NATIONALITY_SYSTEM, idDocumentType,
} from '../../fhir-resources/profiles';
import { empiSystem } from './patient-identity';
import { writeAddress } from './v3-address';
import { writeName, writeTelecoms } from './v3-datatypes';
import { V3_OID, oidOf } from './v3-oids';
import { fhirToTs } from './v3-time';
import { el, type XmlNode } from './xml-writer';

/** A CD as the platform samples write it: code and system as attributes, the display as a displayName child. */
function nationalCd(tag: string, system: string, code: string | undefined, codeSystemName: string, extra: Record<string, string> = {}): XmlNode | undefined {
  if (!code) return undefined;
  const display = chinaCodeDisplay(system, code);
  return el(tag, { ...extra, code, codeSystem: CODE_SYSTEM_OIDS[system], codeSystemName }, display !== undefined && el('displayName', { value: display }));
}

function extensionCode(patient: Patient, url: string): string | undefined {
  return patient.extension?.find((e: Extension) => e.url === url)?.valueCodeableConcept?.coding?.[0]?.code;
}

const isDocument = (i: Identifier): boolean => idDocumentType(i) !== undefined;

/** The v3 `patient` role for a FHIR Patient: the inverse of readPatient (patient-person.ts). */
export function writePatient(patient: Patient, empiRoot: string): XmlNode {
  const ids = patient.identifier ?? [];
  const empi = ids.filter((i) => i.system === empiSystem(empiRoot));
  const documents = ids.filter(isDocument);
  const others = ids.filter((i) => !empi.includes(i) && !documents.includes(i) && oidOf(i.system) && i.value);
  const document = documents[0];
  const documentType = document ? idDocumentType(document) : undefined;
  const name = patient.name?.[0]?.text ?? [patient.name?.[0]?.family, ...(patient.name?.[0]?.given ?? [])].filter(Boolean).join('');
  const maritalCode = patient.maritalStatus?.coding?.find((c) => c.system === MARITAL_STATUS_SYSTEM)?.code;
  const nationality = extensionCode(patient, NATIONALITY_EXTENSION);

  const person = el('patientPerson', { classCode: 'PSN', determinerCode: 'INSTANCE' },
    document && el('id', {}, el('item', { root: document.system === RESIDENT_ID_SYSTEM ? V3_OID.residentId : undefined, extension: document.value })),
    document && nationalCd('idCategory', ID_DOCUMENT_TYPE_SYSTEM, documentType, '身份证件类别代码表'),
    name !== '' && writeName(name),
    writeTelecoms(patient.telecom),
    patient.gender && nationalCd('administrativeGenderCode', GENDER_SYSTEM, gbGenderFromFhir(patient.gender), '生理性别代码表(GB/T 2261.1)'),
    !!patient.birthDate && el('birthTime', { value: fhirToTs(patient.birthDate) }),
    (patient.address?.length ?? 0) > 0 && el('addr', { 'xsi:type': 'BAG_AD' }, patient.address!.map(writeAddress)),
    nationalCd('maritalStatusCode', MARITAL_STATUS_SYSTEM, maritalCode, '婚姻状况代码表(GB/T 2261.2)'),
    extensionCode(patient, ETHNICITY_EXTENSION) !== undefined &&
      el('ethnicGroupCode', {}, nationalCd('item', ETHNICITY_SYSTEM, extensionCode(patient, ETHNICITY_EXTENSION), '民族类别代码表(GB 3304)')),
    extensionCode(patient, OCCUPATION_EXTENSION) !== undefined && el('asEmployee', { classCode: 'EMP' },
      nationalCd('occupationCode', OCCUPATION_SYSTEM, extensionCode(patient, OCCUPATION_EXTENSION), '从业状况(个人身份)代码表(GB/T 2261.4)')),
    nationality !== undefined && el('asCitizen', { classCode: 'CIT' }, el('politicalNation', { classCode: 'NAT', determinerCode: 'INSTANCE' },
      nationalCd('code', NATIONALITY_SYSTEM, nationality, '世界各国和地区名称代码(GB/T 2659)'))),
    others.map((i) => el('asOtherIDs', { classCode: 'PAT' }, el('id', {}, el('item', { root: oidOf(i.system), extension: i.value })))),
    (patient.contact ?? []).map((c) => {
      const relation = c.relationship?.[0]?.coding?.[0];
      return el('personalRelationship', {},
        !!relation?.code && el('code', { code: relation.code, codeSystem: oidOf(relation.system) ?? V3_OID.familyRelationship },
          relation.display !== undefined && el('displayName', { value: relation.display })),
        writeTelecoms(c.telecom),
        !!c.name?.text && el('relationshipHolder1', { classCode: 'PSN', determinerCode: 'INSTANCE' }, writeName(c.name.text)));
    }));

  return el('patient', { classCode: 'PAT' },
    el('id', {}, empi.map((i) => el('item', { root: empiRoot, extension: i.value }))),
    el('statusCode', { code: patient.active === false ? 'nullified' : 'active' }),
    person);
}
