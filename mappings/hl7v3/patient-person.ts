import type { CodeableConcept, Extension, Identifier, Patient, PatientContact } from '@medplum/fhirtypes';
import {
  birthDateFromResidentId, carriesResidentIdNumber, chinaCodeDisplay, ETHNICITY_EXTENSION, ETHNICITY_SYSTEM, fhirGenderFromGb,
  genderFromResidentId, ID_DOCUMENT_TYPE_SYSTEM, idDocumentNumberProblem, MARITAL_STATUS_SYSTEM, NATIONALITY_EXTENSION,
  NATIONALITY_SYSTEM, nationalityAlpha3, OCCUPATION_EXTENSION, OCCUPATION_SYSTEM, RESIDENT_ID_SYSTEM,
} from '../../fhir-resources/profiles';
import type { InboundContext } from './mapping-context';
import type { MappingProblems } from './mapping-problems';
import { empiSystem } from './patient-identity';
import { readAddress } from './v3-address';
import { displayOf, idItems, identifierFrom, nameText, readDate, readTelecoms } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/** HL7 v3 MaritalStatus beside the GB/T 2261.2 code, for FHIR clients that only know the international one. */
const V3_MARITAL: Readonly<Record<string, string>> = { '10': 'S', '20': 'M', '21': 'M', '22': 'M', '23': 'M', '30': 'W', '40': 'D' };
export const V3_MARITAL_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
// Under patient/id the 域ID (2.16.156.10011.2.5.1.5) names the domain of the ids beside it, not the patient.
const DOMAIN_ID = '2.16.156.10011.2.5.1.5';

export interface PatientReadOptions {
  /** Registrations need a name and gender; messages that only mention a patient do not. */
  demographicsRequired: boolean;
}

/** A national code (attribute `code` of a CD, or of its first `item` for a DSET<CD>) checked against its table. */
function nationalCode(
  cd: V3Element | undefined, system: string, what: string, problems: MappingProblems,
): { code: string; display: string } | undefined {
  const coded = cd?.attr('code') ? cd : cd?.child('item');
  const code = coded?.attr('code');
  if (!coded || !code) return undefined;
  const display = chinaCodeDisplay(system, code);
  if (display === undefined) problems.add('code-invalid', `${code} is not a code of ${what}`, coded.attrPath('code'));
  return display === undefined ? undefined : { code, display };
}

const codedExtension = (url: string, system: string, c: { code: string; display: string }): Extension =>
  ({ url, valueCodeableConcept: { coding: [{ system, code: c.code, display: c.display }] } });

function documentIdentifiers(person: V3Element, problems: MappingProblems): Identifier[] {
  const category = person.child('idCategory');
  const categoryCode = category?.attr('code');
  if (categoryCode && chinaCodeDisplay(ID_DOCUMENT_TYPE_SYSTEM, categoryCode) === undefined) {
    problems.add('code-invalid', `${categoryCode} is not a code of 身份证件类别代码 (CV02.01.101)`, category!.attrPath('code'));
    return [];
  }
  return idItems(person.child('id')).flatMap((item): Identifier[] => {
    const value = item.attr('extension');
    const root = item.attr('root');
    if (!value) return [];
    // The 身份证 root is an identity document; so is an id without a root that idCategory types (a passport…).
    const isDocument = root === V3_OID.residentId || (root === undefined && categoryCode !== undefined);
    if (!isDocument) return [identifierFrom(item, 'secondary')].filter((i): i is Identifier => !!i);
    const type = categoryCode ?? '01';
    const problem = idDocumentNumberProblem(type, value);
    if (problem) problems.add('value', `the ${chinaCodeDisplay(ID_DOCUMENT_TYPE_SYSTEM, type)} number ${value} is not valid: ${problem}`, item.attrPath('extension'));
    return [{
      use: 'official',
      type: { coding: [{ system: ID_DOCUMENT_TYPE_SYSTEM, code: type, display: chinaCodeDisplay(ID_DOCUMENT_TYPE_SYSTEM, type) }] },
      ...(carriesResidentIdNumber(type) ? { system: RESIDENT_ID_SYSTEM } : {}),
      value,
    }];
  });
}

function contactOf(relationship: V3Element): PatientContact | undefined {
  const code = relationship.child('code');
  const name = nameText(relationship.at('relationshipHolder1', 'name'));
  const telecom = readTelecoms(relationship.child('telecom'));
  const relation: CodeableConcept | undefined = code?.attr('code')
    ? { coding: [{ system: oidSystem(code.attr('codeSystem') ?? V3_OID.familyRelationship), code: code.attr('code'), display: displayOf(code) }] }
    : undefined;
  if (!name && telecom.length === 0) return undefined;
  return { ...(relation ? { relationship: [relation] } : {}), ...(name ? { name: { text: name } } : {}), ...(telecom.length ? { telecom } : {}) };
}

/**
 * The Patient in a v3 `patient` role (registration, query answer, or the subject of a visit or order), identifiers
 * ordered by the EMPI rule (patient-identity.ts). Problems are collected with their location; the Patient is
 * returned even when there are some, the caller decides.
 */
export function readPatient(patient: V3Element, ctx: InboundContext, problems: MappingProblems, options: PatientReadOptions): Patient {
  const person = patient.child('patientPerson');
  const patientIds = idItems(patient.child('id')).filter((i) => i.attr('root') !== DOMAIN_ID);
  const empi = patientIds.filter((i) => i.attr('root') === ctx.empiRoot && i.attr('extension'));
  if (empi.length === 0) {
    problems.add('required', `the patient has no id under the EMPI root ${ctx.empiRoot} (patient/id/item@root)`, patient.child('id')?.path ?? `${patient.path}/id`);
  }
  const identifier: Identifier[] = [
    ...empi.map((i) => ({ use: 'usual' as const, system: empiSystem(ctx.empiRoot), value: i.attr('extension')! })),
    ...patientIds.filter((i) => i.attr('root') !== ctx.empiRoot).map((i) => identifierFrom(i, 'secondary')),
    ...(person ? documentIdentifiers(person, problems) : []),
    ...(person?.all('asOtherIDs') ?? []).flatMap((o) => idItems(o.child('id')).map((i) => identifierFrom(i, 'secondary'))),
  ].filter((i): i is Identifier => i !== undefined);

  if (!person) {
    if (options.demographicsRequired) problems.add('required', 'patientPerson is missing', `${patient.path}/patientPerson`);
    return { resourceType: 'Patient', identifier };
  }
  const name = nameText(person.child('name'));
  if (!name && options.demographicsRequired) problems.add('required', 'the patient name (patientPerson/name) is missing', `${person.path}/name`);

  const genderCode = person.child('administrativeGenderCode');
  const gender = genderCode?.attr('code') ? fhirGenderFromGb(genderCode.attr('code')!) : undefined;
  if (genderCode?.attr('code') && !gender) {
    problems.add('code-invalid', `${genderCode.attr('code')} is not a code of 性别代码 (GB/T 2261.1: 0, 1, 2, 9)`, genderCode.attrPath('code'));
  }
  if (!genderCode?.attr('code') && options.demographicsRequired) {
    problems.add('required', 'the gender (administrativeGenderCode@code) is missing', genderCode?.path ?? `${person.path}/administrativeGenderCode`);
  }
  const birthDate = readDate(person.child('birthTime'), 'value', problems);
  crossCheckResidentId(identifier, person, gender, birthDate, problems);

  const marital = nationalCode(person.child('maritalStatusCode'), MARITAL_STATUS_SYSTEM, '婚姻状况代码 (GB/T 2261.2)', problems);
  const ethnicity = nationalCode(person.child('ethnicGroupCode'), ETHNICITY_SYSTEM, '民族类别代码 (GB 3304)', problems);
  const occupation = nationalCode(person.at('asEmployee', 'occupationCode'), OCCUPATION_SYSTEM, '从业状况代码 (GB/T 2261.4)', problems);
  const nationality = readNationality(person, problems);
  const extension = [
    nationality && codedExtension(NATIONALITY_EXTENSION, NATIONALITY_SYSTEM, nationality),
    ethnicity && codedExtension(ETHNICITY_EXTENSION, ETHNICITY_SYSTEM, ethnicity),
    occupation && codedExtension(OCCUPATION_EXTENSION, OCCUPATION_SYSTEM, occupation),
  ].filter((e): e is Extension => !!e);
  const telecom = readTelecoms(person.child('telecom'));
  const address = idItems(person.child('addr')).map(readAddress).filter((a) => a !== undefined);
  const contact = person.all('personalRelationship').map(contactOf).filter((c) => c !== undefined);
  const status = patient.child('statusCode')?.attr('code');

  return {
    resourceType: 'Patient',
    ...(extension.length ? { extension } : {}),
    identifier,
    active: status === undefined || status === 'active',
    ...(name ? { name: [{ use: 'official', text: name }] } : {}),
    ...(telecom.length ? { telecom } : {}),
    ...(gender ? { gender } : {}),
    ...(birthDate ? { birthDate } : {}),
    ...(address.length ? { address } : {}),
    ...(marital ? {
      maritalStatus: {
        coding: [
          { system: MARITAL_STATUS_SYSTEM, code: marital.code, display: marital.display },
          ...(V3_MARITAL[marital.code] ? [{ system: V3_MARITAL_SYSTEM, code: V3_MARITAL[marital.code] }] : []),
        ],
      },
    } : {}),
    ...(contact.length ? { contact } : {}),
  };
}

function readNationality(person: V3Element, problems: MappingProblems): { code: string; display: string } | undefined {
  const cd = person.at('asCitizen', 'politicalNation', 'code') ?? person.child('nationalityCode');
  const raw = cd?.attr('code');
  if (!cd || !raw) return undefined;
  const alpha3 = nationalityAlpha3(raw);
  const display = alpha3 ? chinaCodeDisplay(NATIONALITY_SYSTEM, alpha3) : undefined;
  if (!alpha3 || !display) {
    problems.add('code-invalid', `${raw} is not a country code of GB/T 2659 (alpha-3 such as CHN, or numeric such as 156)`, cd.attrPath('code'));
    return undefined;
  }
  return { code: alpha3, display };
}

/** A 公民身份号码 carries the birth date and the gender; a message that contradicts its own number is refused. */
function crossCheckResidentId(identifiers: Identifier[], person: V3Element, gender: Patient['gender'], birthDate: string | undefined, problems: MappingProblems): void {
  const number = identifiers.find((i) => i.system === RESIDENT_ID_SYSTEM)?.value;
  if (!number) return;
  const fromNumber = birthDateFromResidentId(number);
  if (fromNumber && birthDate && !fromNumber.startsWith(birthDate)) {
    problems.add('value', `birthTime ${birthDate} differs from the date of birth ${fromNumber} in the 身份证 number`, person.child('birthTime')!.attrPath('value'));
  }
  const genderFromNumber = genderFromResidentId(number);
  if (genderFromNumber && (gender === 'male' || gender === 'female') && gender !== genderFromNumber) {
    problems.add('value', `administrativeGenderCode says ${gender} but the 身份证 number is a ${genderFromNumber}'s`, person.child('administrativeGenderCode')!.attrPath('code'));
  }
}
