import type { Identifier, OperationOutcomeIssue, Patient, Resource } from '@medplum/fhirtypes';
import { ID_DOCUMENT_TYPES } from './china-code-tables';
import { chinaCodeDisplay, chinaCodeSystemTitle as title, isChinaCodeSystem } from './china-terminology';
import { carriesResidentIdNumber, idDocumentNumberProblem } from './id-document-number';
import {
  ADDRESS_DIVISION_EXTENSION,
  ADMINISTRATIVE_DIVISION_SYSTEM,
  CHINA_PATIENT_PROFILE,
  ETHNICITY_EXTENSION,
  ETHNICITY_SYSTEM,
  ID_DOCUMENT_TYPE_SYSTEM,
  NATIONALITY_EXTENSION,
  NATIONALITY_SYSTEM,
  OCCUPATION_EXTENSION,
  OCCUPATION_SYSTEM,
  RESIDENT_ID_SYSTEM,
} from './lingshu-canonical';
import { nationalityAlpha3 } from './nationality-codes';
import { birthDateFromResidentId, genderFromResidentId } from './resident-id';

/**
 * The China profile rules, written as code rather than StructureDefinitions (the validator has no slicing-aware
 * profile engine for them, and the rules need the check digit anyway).
 *
 * When they apply — decided here, once:
 *  - Element rules apply to every resource, profile declared or not: a coding that names a Lingshu code system, an
 *    identifier typed with the ID document type system (or in the 公民身份号码 namespace) and an extension with a
 *    Lingshu URL claim the national meaning by themselves, and a wrong check digit is wrong in any resource.
 *  - Patient rules (the ID number against birthDate and gender) apply to every Patient for the same reason.
 *  - A Patient whose meta.profile lists CHINA_PATIENT_PROFILE must also carry an ID document (type and number) and a
 *    gender: the 实名 minimum. Nationality, ethnicity, occupation and address stay optional on write because HIS and
 *    EMPI registrations arrive incomplete; `patientCompleteness` tells the front end what is still missing.
 */

/** What the element walker hands to a rule: a value of a known FHIR type and the FHIRPath that points at it. */
export interface ChinaElement {
  value: unknown;
  type: string;
  path: string;
}

const EXTENSION_SYSTEMS: Readonly<Record<string, { system: string; valueType: 'CodeableConcept' | 'Coding'; what: string }>> = {
  [NATIONALITY_EXTENSION]: { system: NATIONALITY_SYSTEM, valueType: 'CodeableConcept', what: 'nationality (GB/T 2659)' },
  [ETHNICITY_EXTENSION]: { system: ETHNICITY_SYSTEM, valueType: 'CodeableConcept', what: 'ethnicity (GB 3304)' },
  [OCCUPATION_EXTENSION]: { system: OCCUPATION_SYSTEM, valueType: 'CodeableConcept', what: 'occupation (GB/T 2261.4)' },
  [ADDRESS_DIVISION_EXTENSION]: { system: ADMINISTRATIVE_DIVISION_SYSTEM, valueType: 'Coding', what: 'administrative division (GB/T 2260)' },
};

/** Issues for one typed element value (Coding, Identifier, Extension); other types pass. */
export function chinaElementIssues({ value, type, path }: ChinaElement): OperationOutcomeIssue[] {
  if (!isObject(value)) return [];
  if (type === 'Coding') return codingIssues(value, path);
  if (type === 'Identifier') return identifierIssues(value as Identifier, path);
  if (type === 'Extension') return extensionIssues(value, path);
  return [];
}

function codingIssues(coding: Record<string, unknown>, path: string): OperationOutcomeIssue[] {
  const { system, code } = coding;
  if (typeof system !== 'string' || !isChinaCodeSystem(system)) return [];
  if (typeof code !== 'string') return [issue('required', `a coding in ${title(system)} needs a code`, `${path}.code`)];
  if (chinaCodeDisplay(system, code) !== undefined) return [];
  const alpha3 = system === NATIONALITY_SYSTEM ? nationalityAlpha3(code) : undefined;
  const hint = alpha3 ? `; nationality is kept as the alpha-3 code, use ${alpha3}` : '';
  return [issue('code-invalid', `'${code}' is not a code of ${title(system)}${hint}`, `${path}.code`)];
}

/** The CV02.01.101 document type of an identifier, or undefined when it is not an ID document identifier. */
export function idDocumentType(identifier: Identifier): string | undefined {
  // Runs on unvalidated input too (all issues are collected in one pass), so no shape is taken for granted.
  const codings: unknown = identifier.type?.coding;
  const coded = Array.isArray(codings) ? codings.find((c) => isObject(c) && c.system === ID_DOCUMENT_TYPE_SYSTEM)?.code : undefined;
  if (typeof coded === 'string') return coded;
  return identifier.system === RESIDENT_ID_SYSTEM ? '01' : undefined;
}

function identifierIssues(identifier: Identifier, path: string): OperationOutcomeIssue[] {
  const typeCode = idDocumentType(identifier);
  // An unknown type code is reported by the Coding rule; there is no number format to check against it.
  if (typeCode === undefined || !ID_DOCUMENT_TYPES.some((t) => t.code === typeCode)) return [];
  const issues: OperationOutcomeIssue[] = [];
  if (identifier.system === RESIDENT_ID_SYSTEM && !carriesResidentIdNumber(typeCode)) {
    issues.push(issue('value', `the 公民身份号码 namespace ${RESIDENT_ID_SYSTEM} does not fit document type ${typeCode}`, `${path}.system`));
  }
  if (typeof identifier.value !== 'string' || identifier.value === '') {
    issues.push(issue('required', 'an ID document identifier needs the document number in value', `${path}.value`));
    return issues;
  }
  const problem = idDocumentNumberProblem(typeCode, identifier.value);
  const document = ID_DOCUMENT_TYPES.find((t) => t.code === typeCode)?.display;
  if (problem) issues.push(issue('value', `the ${document} number is not valid: ${problem}`, `${path}.value`));
  return issues;
}

function extensionIssues(extension: Record<string, unknown>, path: string): OperationOutcomeIssue[] {
  const rule = typeof extension.url === 'string' ? EXTENSION_SYSTEMS[extension.url] : undefined;
  if (!rule) return [];
  const value = extension[`value${rule.valueType}`];
  const codings = rule.valueType === 'Coding' ? [value] : isObject(value) && Array.isArray(value.coding) ? value.coding : [];
  if (codings.some((c) => isObject(c) && c.system === rule.system)) return [];
  return [
    issue(
      'value',
      `the ${rule.what} extension needs value${rule.valueType} with a coding in ${rule.system}`,
      `${path}.value.ofType(${rule.valueType})`,
    ),
  ];
}

/** Issues that need the whole resource: the ID number against Patient.birthDate and gender, the declared profile. */
export function chinaResourceIssues(resource: Resource): OperationOutcomeIssue[] {
  if (resource.resourceType !== 'Patient') return [];
  const patient = resource;
  const issues: OperationOutcomeIssue[] = [];
  const identifiers = Array.isArray(patient.identifier) ? patient.identifier : [];
  identifiers.forEach((identifier, i) => {
    if (!isObject(identifier) || typeof identifier.value !== 'string') return;
    const typeCode = idDocumentType(identifier);
    if (!typeCode || !carriesResidentIdNumber(typeCode)) return;
    const birthDate = birthDateFromResidentId(identifier.value);
    // birthDate may be partial (a year, a year-month): compare only the precision it has.
    if (birthDate && typeof patient.birthDate === 'string' && !birthDate.startsWith(patient.birthDate)) {
      issues.push(
        issue('value', `birthDate ${patient.birthDate} differs from the date of birth ${birthDate} in Patient.identifier[${i}]`, 'Patient.birthDate'),
      );
    }
    const gender = genderFromResidentId(identifier.value);
    // Only male/female are checked: other and unknown say nothing the number could contradict.
    if (gender && (patient.gender === 'male' || patient.gender === 'female') && patient.gender !== gender) {
      issues.push(issue('value', `gender ${patient.gender} differs from the gender (${gender}) in Patient.identifier[${i}]`, 'Patient.gender'));
    }
  });
  if (declaresChinaPatientProfile(patient)) issues.push(...chinaPatientProfileIssues(patient, identifiers));
  return issues;
}

function declaresChinaPatientProfile(patient: Patient): boolean {
  const profiles = patient.meta?.profile;
  return Array.isArray(profiles) && profiles.some((p) => typeof p === 'string' && p.split('|')[0] === CHINA_PATIENT_PROFILE);
}

function chinaPatientProfileIssues(patient: Patient, identifiers: Identifier[]): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  if (!identifiers.some((id) => isObject(id) && idDocumentType(id) !== undefined && typeof id.value === 'string')) {
    issues.push(issue('required', `the China Patient profile needs an identifier typed in ${ID_DOCUMENT_TYPE_SYSTEM} with its number`, 'Patient.identifier'));
  }
  if (patient.gender === undefined) issues.push(issue('required', 'the China Patient profile needs gender', 'Patient.gender'));
  return issues;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function issue(code: OperationOutcomeIssue['code'], diagnostics: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
