import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Practitioner, Reference } from '@medplum/fhirtypes';
import { ADDRESS_DIVISION_EXTENSION, ADMINISTRATIVE_DIVISION_SYSTEM, LINGSHU_CANONICAL_BASE, divisionByCode } from '../../fhir-resources/profiles';
import { authoritySystem } from './hl7-identifiers';
import type { Hl7Field } from './hl7-message';
import type { ResolvedContext } from './mapping-context';

/** HL7 v2 composite data types (§2.A) that every message type uses, as FHIR data types. */

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
/** ISO 21090 name representation: IDE for the 汉字 name, ABC for its pinyin (the extension FHIR defines for CJK names). */
const NAME_REPRESENTATION = 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation';

/**
 * XPN → HumanName. Domestic HIS systems put the whole 汉字 name in XPN.1 and often its pinyin in XPN.2; splitting a
 * Chinese name into family and given names is not reliable (复姓 such as 欧阳), so it stays whole in `text`.
 */
export function humanNames(reps: readonly Hl7Field[]): HumanName[] {
  const names: HumanName[] = [];
  for (const xpn of reps) {
    const first = xpn.get(1);
    const second = xpn.get(2);
    if (CJK.test(first)) {
      names.push({ extension: [{ url: NAME_REPRESENTATION, valueCode: 'IDE' }], use: 'official', text: first });
      if (second && !CJK.test(second)) names.push({ extension: [{ url: NAME_REPRESENTATION, valueCode: 'ABC' }], use: 'official', text: second });
      continue;
    }
    const given = [second, xpn.get(3)].filter(Boolean);
    const name: HumanName = {
      ...(NAME_USE[xpn.get(7)] ? { use: NAME_USE[xpn.get(7)] } : {}),
      ...(first ? { family: first } : {}),
      ...(given.length ? { given } : {}),
      ...(xpn.get(5) ? { prefix: [xpn.get(5)] } : {}),
      ...(xpn.get(4) ? { suffix: [xpn.get(4)] } : {}),
    };
    if (name.family || name.given) names.push(name);
  }
  return names;
}

/** Table 0200 name type → HumanName.use. */
const NAME_USE: Readonly<Record<string, HumanName['use']>> = { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', A: 'nickname', U: 'temp' };

/** Table 0190 address type → Address.use. */
const ADDRESS_USE: Readonly<Record<string, Address['use']>> = { H: 'home', P: 'home', L: 'home', B: 'work', O: 'work', C: 'temp', BA: 'old' };

/** XAD → Address; a GB/T 2260 county code in XAD.9 becomes the division extension, the free text stays in `line`. */
export function address(xad: Hl7Field): Address | undefined {
  const line = [xad.get(1, 1), xad.get(2)].filter(Boolean);
  const division = xad.get(9);
  const out: Address = {
    ...(divisionByCode(division) ? { extension: [{ url: ADDRESS_DIVISION_EXTENSION, valueCoding: { system: ADMINISTRATIVE_DIVISION_SYSTEM, code: division, display: divisionByCode(division)?.name } }] } : {}),
    ...(ADDRESS_USE[xad.get(7)] ? { use: ADDRESS_USE[xad.get(7)] } : {}),
    ...(xad.get(7) === 'M' ? { type: 'postal' as const } : {}),
    ...(line.length ? { line } : {}),
    ...(xad.get(3) ? { city: xad.get(3) } : {}),
    ...(xad.get(4) ? { state: xad.get(4) } : {}),
    ...(xad.get(5) ? { postalCode: xad.get(5) } : {}),
    ...(xad.get(6) ? { country: xad.get(6) } : {}),
  };
  return line.length || out.city || out.state || out.postalCode ? out : undefined;
}

/**
 * XTN → ContactPoint. v2.3 senders write the number in XTN.1 (`(216)123-4567`); v2.5 ones in XTN.12 or XTN.6/7,
 * and e-mail in XTN.4. An 11-digit number starting with 1 is a 手机号 (mobile) whatever XTN.3 says.
 */
export function contactPoint(xtn: Hl7Field): ContactPoint | undefined {
  const equipment = xtn.get(3);
  const email = xtn.get(4);
  const number = xtn.get(12) || [xtn.get(6), xtn.get(7)].filter(Boolean).join('-') || xtn.get(1);
  if (equipment === 'Internet' || equipment === 'X.400' || (!number && email)) return email || number ? { system: 'email', value: email || number } : undefined;
  if (!number) return undefined;
  const use = /^1\d{10}$/.test(number) || equipment === 'CP' ? 'mobile' : xtn.get(2) === 'WPN' ? 'work' : xtn.get(2) === 'PRN' ? 'home' : undefined;
  return { system: equipment === 'FX' ? 'fax' : equipment === 'BP' ? 'pager' : 'phone', value: number, ...(use ? { use } : {}) };
}

/** Coding system names of table 0396 (and the ones domestic senders write) → FHIR system URLs. */
const CODING_SYSTEMS: Readonly<Record<string, string>> = {
  LN: 'http://loinc.org',
  SCT: 'http://snomed.info/sct',
  SNM: 'http://snomed.info/sct',
  I10: 'http://hl7.org/fhir/sid/icd-10',
  'ICD-10': 'http://hl7.org/fhir/sid/icd-10',
  ICD10: 'http://hl7.org/fhir/sid/icd-10',
  I9C: 'http://hl7.org/fhir/sid/icd-9-cm',
  CVX: 'http://hl7.org/fhir/sid/cvx',
  UCUM: 'http://unitsofmeasure.org',
};

/**
 * The system URL of a coding system name. Local codes (`L`, `LOCAL`, `99zzz`, or none) belong to the sending
 * application: the 生殖中心 LIS and the main LIS both write `L` for different code lists.
 */
export function codingSystem(name: string, sendingApplication: string): string {
  const known = CODING_SYSTEMS[name.toUpperCase()];
  if (known) return known;
  const table = /^HL7(\d{4})$/i.exec(name);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  if (!name || name === 'L' || name.toUpperCase() === 'LOCAL' || /^99/.test(name)) {
    return `${LINGSHU_CANONICAL_BASE}/hl7v2/codes/${encodeURIComponent(sendingApplication)}`;
  }
  return `${LINGSHU_CANONICAL_BASE}/hl7v2/codes/${encodeURIComponent(name)}`;
}

/** CE / CWE / CNE → CodeableConcept with the primary and the alternate coding; text-only when no code is sent. */
export function codeableConcept(ce: Hl7Field, sendingApplication: string): CodeableConcept | undefined {
  const codings: Coding[] = [];
  for (const at of [1, 4]) {
    const code = ce.get(at).trim();
    if (!code) continue;
    const display = ce.get(at + 1);
    codings.push({ system: codingSystem(ce.get(at + 2), sendingApplication), code, ...(display ? { display } : {}) });
  }
  const text = ce.get(2) || ce.get(5) || ce.get(9);
  if (!codings.length) return text ? { text } : undefined;
  return { coding: codings, ...(text ? { text } : {}) };
}

/**
 * XCN (doctors, nurses, technicians) → a Reference by identifier and name: the Practitioner directory is kept by
 * another channel, and a message must not create or overwrite practitioners.
 */
export function practitionerReference(xcn: Hl7Field, ctx: ResolvedContext): Reference<Practitioner> | undefined {
  const id = xcn.get(1);
  const family = xcn.get(2);
  const display = CJK.test(family) ? family : [xcn.get(3), family].filter(Boolean).join(' ');
  if (!id && !display) return undefined;
  return {
    ...(id ? { identifier: { system: authoritySystem(xcn.get(9, 1), xcn.get(9, 2), xcn.get(9, 3), ctx), value: id } } : {}),
    ...(display ? { display } : {}),
  };
}
