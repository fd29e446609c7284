import { evalFhirPath } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import {
  ADDRESS_DIVISION_EXTENSION,
  ADMINISTRATIVE_DIVISION_SYSTEM,
  ETHNICITY_EXTENSION,
  ETHNICITY_SYSTEM,
  ID_DOCUMENT_TYPE_SYSTEM,
  NATIONALITY_EXTENSION,
  NATIONALITY_SYSTEM,
  OCCUPATION_EXTENSION,
  OCCUPATION_SYSTEM,
} from '../../../fhir-resources/profiles/lingshu-canonical';
import { COMPLETENESS_FIELDS, patientCompleteness } from '../../../fhir-resources/profiles/patient-completeness';

const concept = (system: string, code: string) => ({ coding: [{ system, code }] });

const complete: Patient = {
  resourceType: 'Patient',
  identifier: [{ type: concept(ID_DOCUMENT_TYPE_SYSTEM, '01'), value: '11010519491231002X' }],
  gender: 'female',
  extension: [
    { url: NATIONALITY_EXTENSION, valueCodeableConcept: concept(NATIONALITY_SYSTEM, 'CHN') },
    { url: ETHNICITY_EXTENSION, valueCodeableConcept: concept(ETHNICITY_SYSTEM, '01') },
    { url: OCCUPATION_EXTENSION, valueCodeableConcept: concept(OCCUPATION_SYSTEM, '80') },
  ],
  address: [
    {
      state: '广西壮族自治区', city: '南宁市', district: '兴宁区', line: ['民主路 1 号'],
      extension: [{ url: ADDRESS_DIVISION_EXTENSION, valueCoding: { system: ADMINISTRATIVE_DIVISION_SYSTEM, code: '450102' } }],
    },
  ],
};

describe('patientCompleteness', () => {
  it('finds nothing missing on a complete record', () => {
    expect(patientCompleteness(complete)).toEqual([]);
  });

  it('lists every field of an empty record in form order', () => {
    expect(patientCompleteness({ resourceType: 'Patient' })).toEqual(Object.values(COMPLETENESS_FIELDS));
  });

  it('names a missing ethnicity by the extension FHIRPath', () => {
    const patient = { ...complete, extension: complete.extension?.filter((e) => e.url !== ETHNICITY_EXTENSION) };
    expect(patientCompleteness(patient)).toEqual([`Patient.extension('${ETHNICITY_EXTENSION}')`]);
  });

  it('asks for the number when the ID document type is there without it', () => {
    const patient: Patient = { ...complete, identifier: [{ type: concept(ID_DOCUMENT_TYPE_SYSTEM, '03') }] };
    expect(patientCompleteness(patient)).toEqual([COMPLETENESS_FIELDS.idDocumentNumber]);
  });

  it('does not count a hospital record number as an ID document', () => {
    const patient: Patient = { ...complete, identifier: [{ system: 'urn:oid:2.16.156.10011.2.5.1.4', value: 'MRN0001' }] };
    expect(patientCompleteness(patient)).toEqual([COMPLETENESS_FIELDS.idDocumentType, COMPLETENESS_FIELDS.idDocumentNumber]);
  });

  it('asks for the division code when the address has only free text', () => {
    const patient: Patient = { ...complete, address: [{ line: ['南宁市兴宁区民主路 1 号'] }] };
    expect(patientCompleteness(patient)).toEqual([COMPLETENESS_FIELDS.addressDivision]);
  });

  it('returns FHIRPaths that select nothing on a record lacking the field and something on a complete one', () => {
    for (const path of Object.values(COMPLETENESS_FIELDS)) {
      expect(evalFhirPath(path, { resourceType: 'Patient' })).toEqual([]);
      expect(evalFhirPath(path, complete).length).toBeGreaterThan(0);
    }
  });
});
