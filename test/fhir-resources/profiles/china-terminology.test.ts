import type { CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';
import {
  ADMINISTRATIVE_DIVISION_SYSTEM,
  ETHNICITY_SYSTEM,
  GENDER_SYSTEM,
  ID_DOCUMENT_TYPE_SYSTEM,
  NATIONALITY_SYSTEM,
  OCCUPATION_SYSTEM,
} from '../../../fhir-resources/profiles/lingshu-canonical';
import { chinaCodeDisplay, chinaTerminologyResources } from '../../../fhir-resources/profiles/china-terminology';
import { fhirGenderFromGb, gbGenderFromFhir } from '../../../fhir-resources/profiles/china-code-tables';
import { nationalityAlpha3 } from '../../../fhir-resources/profiles/nationality-codes';

const codeSystem = (url: string): CodeSystem =>
  chinaTerminologyResources().find((r): r is CodeSystem => r.resourceType === 'CodeSystem' && r.url === url) as CodeSystem;

const find = (concepts: CodeSystemConcept[] | undefined, code: string): CodeSystemConcept | undefined => {
  for (const c of concepts ?? []) {
    if (c.code === code) return c;
    const inner = find(c.concept, code);
    if (inner) return inner;
  }
  return undefined;
};

describe('China terminology resources', () => {
  it('has one CodeSystem and one ValueSet for each national code system', () => {
    const urls = chinaTerminologyResources().map((r) => `${r.resourceType} ${r.url}`);
    for (const system of [ID_DOCUMENT_TYPE_SYSTEM, GENDER_SYSTEM, NATIONALITY_SYSTEM, ETHNICITY_SYSTEM, OCCUPATION_SYSTEM, ADMINISTRATIVE_DIVISION_SYSTEM]) {
      expect(urls).toContain(`CodeSystem ${system}`);
      expect(urls).toContain(`ValueSet ${system.replace('/CodeSystem/', '/ValueSet/')}`);
    }
  });

  it('hands out copies, so a caller changing one does not change the next', () => {
    const first = chinaTerminologyResources();
    first[0].id = 'changed';
    expect(chinaTerminologyResources()[0].id).toBe('id-document-type');
  });

  it('gives each value set the whole of its code system', () => {
    const vs = chinaTerminologyResources().find((r): r is ValueSet => r.resourceType === 'ValueSet' && r.id === 'ethnicity');
    expect(vs?.compose?.include).toEqual([{ system: ETHNICITY_SYSTEM }]);
  });

  it('names the ID document type system by its WS 364 OID', () => {
    expect(codeSystem(ID_DOCUMENT_TYPE_SYSTEM).identifier).toEqual([{ system: 'urn:ietf:rfc:3986', value: 'urn:oid:2.16.156.10011.2.3.1.1' }]);
  });

  it('lists the eight ID document types of CV02.01.101', () => {
    expect(codeSystem(ID_DOCUMENT_TYPE_SYSTEM).concept?.map((c) => c.code)).toEqual(['01', '02', '03', '04', '05', '06', '07', '99']);
  });

  it('lists 58 ethnicity codes: 56 groups, 其他 and 外国血统中国籍人士', () => {
    expect(codeSystem(ETHNICITY_SYSTEM).count).toBe(58);
    expect(chinaCodeDisplay(ETHNICITY_SYSTEM, '08')).toBe('壮族');
  });

  it('keeps nationality as alpha-3 with the numeric code as a property and a Chinese display', () => {
    const chn = find(codeSystem(NATIONALITY_SYSTEM).concept, 'CHN');
    expect(chn?.display).toBe('中国');
    expect(chn?.property).toContainEqual({ code: 'numeric', valueCode: '156' });
  });

  it('includes Taiwan, which the ISO table shipped with the FHIR definitions lacks', () => {
    expect(chinaCodeDisplay(NATIONALITY_SYSTEM, 'TWN')).toBe('中国台湾');
  });

  it('translates a numeric nationality code to alpha-3 and refuses it as a stored code', () => {
    expect(nationalityAlpha3('156')).toBe('CHN');
    expect(nationalityAlpha3('chn')).toBe('CHN');
    expect(chinaCodeDisplay(NATIONALITY_SYSTEM, '156')).toBeUndefined();
  });

  it('nests divisions province → city → county with six-digit codes', () => {
    const guangxi = find(codeSystem(ADMINISTRATIVE_DIVISION_SYSTEM).concept, '450000');
    expect(guangxi?.display).toBe('广西壮族自治区');
    const nanning = guangxi?.concept?.find((c) => c.code === '450100');
    expect(nanning?.display).toBe('南宁市');
    expect(nanning?.concept?.map((c) => c.code)).toContain('450102');
  });

  it('lists a city without counties (东莞市) once', () => {
    const dongguan = find(codeSystem(ADMINISTRATIVE_DIVISION_SYSTEM).concept, '441900');
    expect(dongguan?.display).toBe('东莞市');
    expect(dongguan?.concept ?? []).toHaveLength(0);
  });

  it('counts every concept of the division table in CodeSystem.count', () => {
    const count = (cs: CodeSystemConcept[] | undefined): number => (cs ?? []).reduce((n, c) => n + 1 + count(c.concept), 0);
    const cs = codeSystem(ADMINISTRATIVE_DIVISION_SYSTEM);
    expect(cs.count).toBe(count(cs.concept));
    expect(cs.count).toBeGreaterThan(3000);
  });

  it('knows no division 459999', () => {
    expect(chinaCodeDisplay(ADMINISTRATIVE_DIVISION_SYSTEM, '459999')).toBeUndefined();
  });

  it('maps GB/T 2261.1 gender codes to Patient.gender and back', () => {
    expect(['0', '1', '2', '9'].map(fhirGenderFromGb)).toEqual(['unknown', 'male', 'female', 'other']);
    expect(gbGenderFromFhir('female')).toBe('2');
    expect(fhirGenderFromGb('3')).toBeUndefined();
  });
});
