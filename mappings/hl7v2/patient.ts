import type { Extension, Identifier, Patient } from '@medplum/fhirtypes';
import {
  ETHNICITIES,
  ETHNICITY_EXTENSION,
  ETHNICITY_SYSTEM,
  MARITAL_STATUSES,
  MARITAL_STATUS_SYSTEM,
  NATIONALITY_EXTENSION,
  NATIONALITY_SYSTEM,
  RESIDENT_ID_SYSTEM,
  birthDateFromResidentId,
  chinaCodeDisplay,
  fhirGenderFromGb,
  genderFromResidentId,
  nationalityAlpha3,
} from '../../fhir-resources/profiles';
import { address, contactPoint, humanNames } from './hl7-datatypes';
import { fhirDate, fhirDateTime } from './hl7-datetime';
import { cxIdentifier } from './hl7-identifiers';
import type { Hl7Segment } from './hl7-message';
import type { ResolvedContext } from './mapping-context';
import { MappingProblem } from './mapping-problem';

export interface MappedPatient {
  patient: Patient;
  /** The identifier the transaction finds the patient by: the first PID-3 that is not a 身份证 number, else that. */
  key: Identifier;
}

/** PID → Patient, with the China profile's nationality and ethnicity extensions when the sender fills PID-28 / PID-22. */
export function patientFromPid(pid: Hl7Segment, ctx: ResolvedContext): MappedPatient {
  const identifiers = pid
    .repetitions(3)
    .map((cx, i) => cxIdentifier(cx, `${pid.where(3)}[${i + 1}]`, ctx))
    .filter((id): id is Identifier => id !== undefined);
  // PID-2 (external id) and PID-4 (alternate id) were withdrawn after v2.3 but v2.3 senders still fill them.
  for (const field of [2, 4]) {
    for (const [i, cx] of pid.repetitions(field).entries()) {
      const id = cxIdentifier(cx, `${pid.where(field)}[${i + 1}]`, ctx, 'secondary');
      if (id && !identifiers.some((known) => known.system === id.system && known.value === id.value)) identifiers.push(id);
    }
  }
  const key = identifiers.find((id) => id.system !== RESIDENT_ID_SYSTEM) ?? identifiers[0];
  if (!key) throw new MappingProblem('required', pid.where(3), `${pid.where(3)} (patient identifier list) is empty: the patient cannot be identified`);

  const birthDate = fhirDate(pid.get(7), pid.where(7));
  const gender = administrativeGender(pid.get(8));
  checkAgainstResidentId(pid, identifiers, birthDate, gender);
  const deceased = pid.get(30) === 'Y' ? fhirDateTime(pid.get(29), pid.where(29), ctx.utcOffset) ?? true : undefined;
  const extension = [nationalityExtension(pid), ethnicityExtension(pid)].filter((e): e is Extension => e !== undefined);
  const addresses = pid.repetitions(11).map(address).filter((a) => a !== undefined);
  const telecom = [...pid.repetitions(13), ...pid.repetitions(14)].map(contactPoint).filter((c) => c !== undefined);
  const maritalStatus = maritalStatusOf(pid);
  const patient: Patient = {
    resourceType: 'Patient',
    ...(extension.length ? { extension } : {}),
    identifier: identifiers,
    active: true,
    name: humanNames(pid.repetitions(5)),
    ...(telecom.length ? { telecom } : {}),
    ...(gender ? { gender } : {}),
    ...(birthDate ? { birthDate } : {}),
    ...(typeof deceased === 'string' ? { deceasedDateTime: deceased } : deceased ? { deceasedBoolean: true } : {}),
    ...(addresses.length ? { address: addresses } : {}),
    ...(maritalStatus ? { maritalStatus } : {}),
  };
  if (!patient.name?.length) delete patient.name;
  return { patient, key };
}

/** Table 0001 (M/F/O/U/A/N) and the GB/T 2261.1 digits domestic HIS systems send in its place. */
function administrativeGender(code: string): Patient['gender'] {
  const hl7: Record<string, Patient['gender']> = { M: 'male', F: 'female', O: 'other', A: 'other', N: 'other', U: 'unknown' };
  return hl7[code.toUpperCase()] ?? fhirGenderFromGb(code);
}

/**
 * A 公民身份号码 carries the birth date and sex; the store refuses a Patient whose PID-7 / PID-8 contradict it, so
 * the contradiction is reported here, at the HL7 field the sender has to correct.
 */
function checkAgainstResidentId(pid: Hl7Segment, identifiers: Identifier[], birthDate: string | undefined, gender: Patient['gender']): void {
  const id = identifiers.find((i) => i.system === RESIDENT_ID_SYSTEM)?.value;
  if (!id) return;
  const idBirthDate = birthDateFromResidentId(id);
  if (birthDate && idBirthDate && !idBirthDate.startsWith(birthDate)) {
    throw new MappingProblem('value', pid.where(7), `${pid.where(7)} birth date ${birthDate} differs from the one in the 居民身份证 number (${idBirthDate})`);
  }
  const idGender = genderFromResidentId(id);
  if (idGender && (gender === 'male' || gender === 'female') && gender !== idGender) {
    throw new MappingProblem('value', pid.where(8), `${pid.where(8)} sex ${gender} differs from the one in the 居民身份证 number (${idGender})`);
  }
}

/** PID-28 nationality: GB/T 2659 alpha-3 or numeric (156); FHIR keeps alpha-3. */
function nationalityExtension(pid: Hl7Segment): Extension | undefined {
  const alpha3 = nationalityAlpha3(pid.get(28, 1));
  if (!alpha3) return undefined;
  const display = chinaCodeDisplay(NATIONALITY_SYSTEM, alpha3);
  return { url: NATIONALITY_EXTENSION, valueCodeableConcept: { coding: [{ system: NATIONALITY_SYSTEM, code: alpha3, ...(display ? { display } : {}) }] } };
}

/** PID-22 ethnic group: the GB 3304 code (01), or only its name (汉族) as many LIS systems copy it. */
function ethnicityExtension(pid: Hl7Segment): Extension | undefined {
  const code = pid.get(22, 1);
  const text = pid.get(22, 2);
  const entry = ETHNICITIES.find((e) => e.code === code) ?? ETHNICITIES.find((e) => e.display === (text || code));
  if (!entry) return undefined;
  return { url: ETHNICITY_EXTENSION, valueCodeableConcept: { coding: [{ system: ETHNICITY_SYSTEM, code: entry.code, display: entry.display }] } };
}

/** Table 0002 → v3 MaritalStatus; GB/T 2261.2 (10, 20 …) → the national code system. */
function maritalStatusOf(pid: Hl7Segment): Patient['maritalStatus'] {
  const code = pid.get(16, 1);
  const national = MARITAL_STATUSES.find((m) => m.code === code);
  if (national) return { coding: [{ system: MARITAL_STATUS_SYSTEM, code: national.code, display: national.display }] };
  const v3: Record<string, string> = { S: 'S', M: 'M', D: 'D', W: 'W', A: 'L', P: 'T', U: 'UNK' };
  if (!v3[code]) return undefined;
  const system = code === 'U' ? 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor' : 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
  return { coding: [{ system, code: v3[code] }] };
}
