import type { Patient } from '@medplum/fhirtypes';
import {
  ADDRESS_DIVISION_EXTENSION,
  ETHNICITY_EXTENSION,
  ID_DOCUMENT_TYPE_SYSTEM,
  NATIONALITY_EXTENSION,
  OCCUPATION_EXTENSION,
} from './lingshu-canonical';

/**
 * The fields a patient record needs before the internet hospital serves it (实名 and the 个人信息注册 data set of
 * 互联互通), each named by a FHIRPath that evaluates to nothing on a record that lacks it — so the front end can
 * map each one to a form field, and a test can check the path against the record.
 */
export const COMPLETENESS_FIELDS = {
  idDocumentType: `Patient.identifier.where(type.coding.system = '${ID_DOCUMENT_TYPE_SYSTEM}').type`,
  idDocumentNumber: `Patient.identifier.where(type.coding.system = '${ID_DOCUMENT_TYPE_SYSTEM}').value`,
  gender: 'Patient.gender',
  nationality: `Patient.extension('${NATIONALITY_EXTENSION}')`,
  ethnicity: `Patient.extension('${ETHNICITY_EXTENSION}')`,
  occupation: `Patient.extension('${OCCUPATION_EXTENSION}')`,
  addressDivision: `Patient.address.extension('${ADDRESS_DIVISION_EXTENSION}')`,
  addressDetail: 'Patient.address.line',
} as const;

/** The FHIRPaths (values of COMPLETENESS_FIELDS) of the required fields the patient lacks, in form order. */
export function patientCompleteness(patient: Patient): string[] {
  const missing: string[] = [];
  const idDocuments = (patient.identifier ?? []).filter((id) => id.type?.coding?.some((c) => c.system === ID_DOCUMENT_TYPE_SYSTEM));
  if (idDocuments.length === 0) missing.push(COMPLETENESS_FIELDS.idDocumentType);
  if (!idDocuments.some((id) => nonEmpty(id.value))) missing.push(COMPLETENESS_FIELDS.idDocumentNumber);
  if (!patient.gender) missing.push(COMPLETENESS_FIELDS.gender);
  const hasExtension = (url: string): boolean => (patient.extension ?? []).some((e) => e.url === url);
  if (!hasExtension(NATIONALITY_EXTENSION)) missing.push(COMPLETENESS_FIELDS.nationality);
  if (!hasExtension(ETHNICITY_EXTENSION)) missing.push(COMPLETENESS_FIELDS.ethnicity);
  if (!hasExtension(OCCUPATION_EXTENSION)) missing.push(COMPLETENESS_FIELDS.occupation);
  const addresses = patient.address ?? [];
  if (!addresses.some((a) => (a.extension ?? []).some((e) => e.url === ADDRESS_DIVISION_EXTENSION))) missing.push(COMPLETENESS_FIELDS.addressDivision);
  if (!addresses.some((a) => (a.line ?? []).some(nonEmpty))) missing.push(COMPLETENESS_FIELDS.addressDetail);
  return missing;
}

function nonEmpty(value: string | undefined): boolean {
  return typeof value === 'string' && value.trim() !== '';
}
