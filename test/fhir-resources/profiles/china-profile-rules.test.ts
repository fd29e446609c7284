import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, Patient, Resource } from '@medplum/fhirtypes';
import {
  ADDRESS_DIVISION_EXTENSION,
  ADMINISTRATIVE_DIVISION_SYSTEM,
  CHINA_PATIENT_PROFILE,
  ETHNICITY_EXTENSION,
  ETHNICITY_SYSTEM,
  GENDER_SYSTEM,
  ID_DOCUMENT_TYPE_SYSTEM,
  NATIONALITY_EXTENSION,
  NATIONALITY_SYSTEM,
  OCCUPATION_EXTENSION,
  OCCUPATION_SYSTEM,
  RESIDENT_ID_SYSTEM,
} from '../../../fhir-resources/profiles/lingshu-canonical';
import { chinaTerminologyResources } from '../../../fhir-resources/profiles/china-terminology';
import { validateResourceForWrite } from '../../../fhir-resources/validation/validate-resource';

function issuesOf(resource: Resource): OperationOutcomeIssue[] {
  try {
    validateResourceForWrite(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue ?? [];
    throw err;
  }
  return [];
}

const concept = (system: string, code: string) => ({ coding: [{ system, code }] });
const idDocument = (typeCode: string, value?: string) => ({ type: concept(ID_DOCUMENT_TYPE_SYSTEM, typeCode), ...(value ? { value } : {}) });

/** 11010519491231002X is the GB 11643-1999 example: born 1949-12-31, female. */
const complete: Patient = {
  resourceType: 'Patient',
  meta: { profile: [CHINA_PATIENT_PROFILE] },
  identifier: [idDocument('01', '11010519491231002X'), { system: 'urn:oid:2.16.156.10011.2.5.1.4', value: 'MRN0001' }],
  name: [{ text: '张三' }],
  gender: 'female',
  birthDate: '1949-12-31',
  extension: [
    { url: NATIONALITY_EXTENSION, valueCodeableConcept: concept(NATIONALITY_SYSTEM, 'CHN') },
    { url: ETHNICITY_EXTENSION, valueCodeableConcept: concept(ETHNICITY_SYSTEM, '08') },
    { url: OCCUPATION_EXTENSION, valueCodeableConcept: concept(OCCUPATION_SYSTEM, '80') },
  ],
  address: [
    {
      state: '广西壮族自治区', city: '南宁市', district: '兴宁区', line: ['民主路 1 号'],
      extension: [{ url: ADDRESS_DIVISION_EXTENSION, valueCoding: { system: ADMINISTRATIVE_DIVISION_SYSTEM, code: '450102' } }],
    },
  ],
};

const withChanges = (changes: Partial<Patient>): Patient => ({ ...complete, ...changes });

describe('China profile rules in validateResourceForWrite', () => {
  it('accepts a complete patient of the China Patient profile', () => {
    expect(issuesOf(complete)).toEqual([]);
  });

  it('refuses a resident ID with a wrong check character at the identifier value', () => {
    expect(issuesOf(withChanges({ identifier: [idDocument('01', '110105194912310021')] }))).toEqual([
      expect.objectContaining({ code: 'value', expression: ['Patient.identifier[0].value'], diagnostics: expect.stringMatching(/check character/) }),
    ]);
  });

  it('refuses a resident ID whose birth date cannot exist', () => {
    const patient = withChanges({ identifier: [idDocument('01', '450102199902291234')], birthDate: undefined, gender: 'male' });
    expect(issuesOf(patient)).toEqual([
      expect.objectContaining({ expression: ['Patient.identifier[0].value'], diagnostics: expect.stringMatching(/not a real date of birth/) }),
    ]);
  });

  it('refuses a birthDate that differs from the date in the resident ID', () => {
    expect(issuesOf(withChanges({ birthDate: '1949-12-30' }))).toEqual([expect.objectContaining({ code: 'value', expression: ['Patient.birthDate'] })]);
  });

  it('accepts a birthDate given only to the year when the ID agrees', () => {
    expect(issuesOf(withChanges({ birthDate: '1949' }))).toEqual([]);
  });

  it('refuses a gender that contradicts the resident ID', () => {
    expect(issuesOf(withChanges({ gender: 'male' }))).toEqual([expect.objectContaining({ code: 'value', expression: ['Patient.gender'] })]);
  });

  it('does not hold gender unknown against the resident ID', () => {
    expect(issuesOf(withChanges({ gender: 'unknown' }))).toEqual([]);
  });

  it('checks a 居民户口簿 number like a resident ID', () => {
    expect(issuesOf(withChanges({ identifier: [idDocument('02', '110105194912310021')] })).map((i) => i.expression?.[0])).toEqual([
      'Patient.identifier[0].value',
    ]);
  });

  it('checks a passport number only for its basic format', () => {
    expect(issuesOf(withChanges({ identifier: [idDocument('03', 'E12345678')] }))).toEqual([]);
    expect(issuesOf(withChanges({ identifier: [idDocument('03', 'E-1234')] })).map((i) => i.expression?.[0])).toEqual(['Patient.identifier[0].value']);
  });

  it('refuses an ID document type outside CV02.01.101', () => {
    expect(issuesOf(withChanges({ identifier: [idDocument('08', 'X1234567')] }))).toEqual([
      expect.objectContaining({ code: 'code-invalid', expression: ['Patient.identifier[0].type.coding[0].code'] }),
    ]);
  });

  it('refuses an ID document identifier without its number', () => {
    expect(issuesOf(withChanges({ meta: undefined, identifier: [idDocument('01')] }))).toEqual([
      expect.objectContaining({ code: 'required', expression: ['Patient.identifier[0].value'] }),
    ]);
  });

  it('checks a number in the 公民身份号码 namespace even without an ID document type', () => {
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: RESIDENT_ID_SYSTEM, value: '110105194912310021' }] };
    expect(issuesOf(patient).map((i) => i.expression?.[0])).toEqual(['Patient.identifier[0].value']);
  });

  it('checks ID document identifiers on other resources than Patient', () => {
    const practitioner: Resource = { resourceType: 'Practitioner', identifier: [idDocument('01', '110105194912310021')] };
    expect(issuesOf(practitioner).map((i) => i.expression?.[0])).toEqual(['Practitioner.identifier[0].value']);
  });

  it('refuses an ethnicity code outside GB 3304 at the extension FHIRPath', () => {
    const extension = [{ url: ETHNICITY_EXTENSION, valueCodeableConcept: concept(ETHNICITY_SYSTEM, '57') }];
    expect(issuesOf(withChanges({ extension }))).toEqual([
      expect.objectContaining({
        code: 'code-invalid',
        expression: ['Patient.extension[0].value.ofType(CodeableConcept).coding[0].code'],
        diagnostics: "'57' is not a code of 民族类别代码 (GB 3304)",
      }),
    ]);
  });

  it('refuses a numeric nationality code and names the alpha-3 code to use', () => {
    const extension = [{ url: NATIONALITY_EXTENSION, valueCodeableConcept: concept(NATIONALITY_SYSTEM, '156') }];
    expect(issuesOf(withChanges({ extension }))[0].diagnostics).toMatch(/use CHN/);
  });

  it('refuses an occupation extension whose coding is in another system', () => {
    const extension = [{ url: OCCUPATION_EXTENSION, valueCodeableConcept: concept('http://example.org/jobs', '80') }];
    expect(issuesOf(withChanges({ extension }))).toEqual([
      expect.objectContaining({ code: 'value', expression: ['Patient.extension[0].value.ofType(CodeableConcept)'] }),
    ]);
  });

  it('refuses an address division code that GB/T 2260 does not have', () => {
    const address = [{ line: ['民主路 1 号'], extension: [{ url: ADDRESS_DIVISION_EXTENSION, valueCoding: { system: ADMINISTRATIVE_DIVISION_SYSTEM, code: '459999' } }] }];
    expect(issuesOf(withChanges({ address }))).toEqual([
      expect.objectContaining({ code: 'code-invalid', expression: ['Patient.address[0].extension[0].value.ofType(Coding).code'] }),
    ]);
  });

  it('refuses a GB/T 2261.1 gender code outside the table wherever a coding uses it', () => {
    const patient: Patient = { resourceType: 'Patient', maritalStatus: { coding: [{ system: GENDER_SYSTEM, code: '3' }] } };
    expect(issuesOf(patient).map((i) => i.expression?.[0])).toEqual(['Patient.maritalStatus.coding[0].code']);
  });

  it('requires an ID document and a gender of a patient that declares the China Patient profile', () => {
    const patient: Patient = { resourceType: 'Patient', meta: { profile: [CHINA_PATIENT_PROFILE] }, name: [{ text: '张三' }] };
    expect(issuesOf(patient).map((i) => [i.code, i.expression?.[0]])).toEqual([
      ['required', 'Patient.identifier'],
      ['required', 'Patient.gender'],
    ]);
  });

  it('reports malformed China elements as structure issues instead of failing', () => {
    const patient = {
      resourceType: 'Patient',
      meta: { profile: CHINA_PATIENT_PROFILE },
      identifier: [{ type: { coding: ID_DOCUMENT_TYPE_SYSTEM }, value: 11010519 }, 'X'],
      extension: [{ url: NATIONALITY_EXTENSION, valueCodeableConcept: { coding: 'CHN' } }],
      address: [{ extension: ADDRESS_DIVISION_EXTENSION }],
    } as unknown as Patient;
    const issues = issuesOf(patient);
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect(issue.expression?.[0]).toMatch(/^Patient\./);
  });

  it('does not require an ID document of a patient without the profile', () => {
    expect(issuesOf({ resourceType: 'Patient', name: [{ text: '张三' }] })).toEqual([]);
  });
});

describe('China terminology resources', () => {
  it.each(chinaTerminologyResources().map((r) => [`${r.resourceType}/${r.id}`, r] as const))('%s passes validateResourceForWrite', (_name, resource) => {
    expect(issuesOf(resource)).toEqual([]);
  });
});
