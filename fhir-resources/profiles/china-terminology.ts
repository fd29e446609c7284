import type { CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';
import { divisionByCode, divisions } from './administrative-division';
import { type CodeEntry, ETHNICITIES, GENDERS, ID_DOCUMENT_TYPES, MARITAL_STATUSES, OCCUPATIONS } from './china-code-tables';
import {
  ADMINISTRATIVE_DIVISION_SYSTEM,
  ADMINISTRATIVE_DIVISION_VALUE_SET,
  CODE_SYSTEM_OIDS,
  ETHNICITY_SYSTEM,
  ETHNICITY_VALUE_SET,
  GENDER_SYSTEM,
  GENDER_VALUE_SET,
  ID_DOCUMENT_TYPE_SYSTEM,
  ID_DOCUMENT_TYPE_VALUE_SET,
  MARITAL_STATUS_SYSTEM,
  MARITAL_STATUS_VALUE_SET,
  NATIONALITY_SYSTEM,
  NATIONALITY_VALUE_SET,
  OCCUPATION_SYSTEM,
  OCCUPATION_VALUE_SET,
} from './lingshu-canonical';
import { nationalities, nationalityAlpha3 } from './nationality-codes';

interface TerminologyDescription {
  id: string;
  system: string;
  valueSet: string;
  name: string;
  title: string;
  description: string;
  concepts: () => CodeSystemConcept[];
  hierarchyMeaning?: CodeSystem['hierarchyMeaning'];
  property?: CodeSystem['property'];
}

const flat = (table: readonly CodeEntry[]) => (): CodeSystemConcept[] => table.map(({ code, display }) => ({ code, display }));

const TERMINOLOGIES: readonly TerminologyDescription[] = [
  {
    id: 'id-document-type', system: ID_DOCUMENT_TYPE_SYSTEM, valueSet: ID_DOCUMENT_TYPE_VALUE_SET, name: 'IdDocumentType',
    title: '身份证件类别代码 (CV02.01.101)', description: 'Identity document types of WS 364, coded in Identifier.type of a patient identifier.',
    concepts: flat(ID_DOCUMENT_TYPES),
  },
  {
    id: 'gender', system: GENDER_SYSTEM, valueSet: GENDER_VALUE_SET, name: 'Gender',
    title: '人的性别代码 (GB/T 2261.1)', description: 'Gender codes of GB/T 2261.1; Patient.gender keeps the FHIR code (0 unknown, 1 male, 2 female, 9 other).',
    concepts: flat(GENDERS),
  },
  {
    id: 'nationality', system: NATIONALITY_SYSTEM, valueSet: NATIONALITY_VALUE_SET, name: 'Nationality',
    title: '世界各国和地区名称代码 (GB/T 2659)', description: 'Countries and regions by ISO 3166-1 alpha-3 code (GB/T 2659); the numeric code is a property.',
    property: [
      { code: 'alpha2', description: 'ISO 3166-1 alpha-2 code', type: 'code' },
      { code: 'numeric', description: 'ISO 3166-1 / GB/T 2659 numeric code', type: 'code' },
    ],
    concepts: () =>
      nationalities().map((n) => ({
        code: n.alpha3,
        display: n.display,
        designation: [{ language: 'en', value: n.englishName }],
        property: [
          ...(n.alpha2 ? [{ code: 'alpha2', valueCode: n.alpha2 }] : []),
          ...(n.numeric ? [{ code: 'numeric', valueCode: n.numeric }] : []),
        ],
      })),
  },
  {
    id: 'ethnicity', system: ETHNICITY_SYSTEM, valueSet: ETHNICITY_VALUE_SET, name: 'Ethnicity',
    title: '民族类别代码 (GB 3304)', description: 'The 56 ethnic groups of China plus 97 其他 and 98 外国血统中国籍人士.',
    concepts: flat(ETHNICITIES),
  },
  {
    id: 'occupation', system: OCCUPATION_SYSTEM, valueSet: OCCUPATION_VALUE_SET, name: 'Occupation',
    title: '从业状况（个人身份）代码 (GB/T 2261.4)', description: 'Employment status (personal identity) codes of GB/T 2261.4.',
    concepts: flat(OCCUPATIONS),
  },
  {
    id: 'marital-status', system: MARITAL_STATUS_SYSTEM, valueSet: MARITAL_STATUS_VALUE_SET, name: 'MaritalStatus',
    title: '婚姻状况代码 (GB/T 2261.2)', description: 'Marital status codes of GB/T 2261.2, used beside the HL7 v3 code in Patient.maritalStatus.',
    concepts: flat(MARITAL_STATUSES),
  },
  {
    id: 'administrative-division', system: ADMINISTRATIVE_DIVISION_SYSTEM, valueSet: ADMINISTRATIVE_DIVISION_VALUE_SET,
    name: 'AdministrativeDivision', title: '行政区划代码 (GB/T 2260)',
    description: 'Administrative divisions of China down to county level, six digits at every level, nested province → city → county.',
    hierarchyMeaning: 'part-of',
    concepts: divisionConcepts,
  },
];

function divisionConcepts(): CodeSystemConcept[] {
  const byCode = new Map<string, CodeSystemConcept>();
  const roots: CodeSystemConcept[] = [];
  for (const d of divisions()) {
    const concept: CodeSystemConcept = { code: d.code, display: d.name };
    byCode.set(d.code, concept);
    const parent = d.parent ? byCode.get(d.parent) : undefined;
    if (parent) (parent.concept ??= []).push(concept);
    else roots.push(concept);
  }
  return roots;
}

const countConcepts = (concepts: CodeSystemConcept[]): number =>
  concepts.reduce((n, c) => n + 1 + countConcepts(c.concept ?? []), 0);

function codeSystemResource(t: TerminologyDescription): CodeSystem {
  const concept = t.concepts();
  const oid = CODE_SYSTEM_OIDS[t.system];
  return {
    resourceType: 'CodeSystem',
    id: t.id,
    url: t.system,
    ...(oid ? { identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:oid:${oid}` }] } : {}),
    name: t.name,
    title: t.title,
    status: 'active',
    experimental: false,
    publisher: 'Lingshu',
    description: t.description,
    caseSensitive: true,
    valueSet: t.valueSet,
    ...(t.hierarchyMeaning ? { hierarchyMeaning: t.hierarchyMeaning } : {}),
    content: 'complete',
    count: countConcepts(concept),
    ...(t.property ? { property: t.property } : {}),
    concept,
  };
}

function valueSetResource(t: TerminologyDescription): ValueSet {
  return {
    resourceType: 'ValueSet',
    id: t.id,
    url: t.valueSet,
    name: t.name,
    title: t.title,
    status: 'active',
    experimental: false,
    publisher: 'Lingshu',
    description: `All codes of ${t.title}.`,
    compose: { include: [{ system: t.system }] },
  };
}

let resources: (CodeSystem | ValueSet)[] | undefined;

function builtResources(): (CodeSystem | ValueSet)[] {
  resources ??= TERMINOLOGIES.flatMap((t) => [codeSystemResource(t), valueSetResource(t)]);
  return resources;
}

/**
 * The China CodeSystem and ValueSet resources, for the store to load at start-up and serve. Each call returns fresh
 * copies, so a caller that sets meta or ids on them cannot change what the validator reads.
 */
export function chinaTerminologyResources(): (CodeSystem | ValueSet)[] {
  return structuredClone(builtResources());
}

/** The title of a China code system ("民族类别代码 (GB 3304)"), for messages; the URL when it is not one of them. */
export function chinaCodeSystemTitle(system: string): string {
  return builtResources().find((r) => r.resourceType === 'CodeSystem' && r.url === system)?.title ?? system;
}

/** The URLs of the China code systems, for the validator to recognise codings it must check. */
export const CHINA_CODE_SYSTEMS: readonly string[] = TERMINOLOGIES.map((t) => t.system);

let displays: Map<string, Map<string, string>> | undefined;

/**
 * The display of `code` in one of the China code systems, or undefined when the code is not in it. Nationality
 * accepts alpha-3 only here: FHIR resources keep alpha-3, `nationalityAlpha3` translates a numeric code on input.
 */
export function chinaCodeDisplay(system: string, code: string): string | undefined {
  if (system === ADMINISTRATIVE_DIVISION_SYSTEM) return divisionByCode(code)?.name;
  if (system === NATIONALITY_SYSTEM) {
    return nationalityAlpha3(code) === code ? nationalities().find((n) => n.alpha3 === code)?.display : undefined;
  }
  displays ??= new Map(
    TERMINOLOGIES.filter((t) => t.system !== ADMINISTRATIVE_DIVISION_SYSTEM && t.system !== NATIONALITY_SYSTEM).map((t) => [
      t.system,
      new Map(t.concepts().map((c) => [c.code, c.display ?? c.code])),
    ]),
  );
  return displays.get(system)?.get(code);
}

export function isChinaCodeSystem(system: string): boolean {
  return CHINA_CODE_SYSTEMS.includes(system);
}
