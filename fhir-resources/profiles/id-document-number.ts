import { residentIdProblem } from './resident-id';

/**
 * Number formats per 身份证件类别 (CV02.01.101). 居民身份证 and 居民户口簿 carry the same 公民身份号码 (a child without
 * a card is registered with the number printed in the 户口簿), so both get the full check. The others get a basic
 * format check only: their numbering rules are not published as a standard and vary across issue years.
 */
const BASIC_FORMATS: Readonly<Record<string, { pattern: RegExp; description: string }>> = {
  // Passports: ICAO 9303 numbers are up to 9 characters in the MRZ, longer ones exist in the visual zone.
  '03': { pattern: /^[A-Za-z0-9]{5,20}$/, description: '5–20 letters or digits' },
  // 港澳居民来往内地通行证 (回乡证): H (香港) or M (澳门), then 8 digits (10 on cards before 2013).
  '06': { pattern: /^[HMhm]\d{8}(\d{2})?$/, description: 'H or M followed by 8 (or 10) digits' },
  // 台湾居民来往内地通行证 (台胞证): 8 digits since 2015; earlier booklets 10 digits, sometimes with a letter in brackets.
  '07': { pattern: /^\d{8}(\d{2}(\([A-Za-z]\))?)?$/, description: '8 digits (or 10 on booklets before 2015)' },
};

/** Any other document (军官证, 驾驶证, 其他): one printable token, no spaces or control characters. */
const ANY_DOCUMENT = { pattern: /^[^\s\p{C}]{1,50}$/u, description: '1–50 characters without spaces' };

/** Why `number` is not a plausible number for the document type `typeCode`, or undefined when it is. */
export function idDocumentNumberProblem(typeCode: string, number: string): string | undefined {
  if (typeCode === '01' || typeCode === '02') return residentIdProblem(number);
  const format = BASIC_FORMATS[typeCode] ?? ANY_DOCUMENT;
  return format.pattern.test(number) ? undefined : `the number should be ${format.description}`;
}

/** Document types whose number is a 公民身份号码 (birth date and gender can be read from it). */
export function carriesResidentIdNumber(typeCode: string): boolean {
  return typeCode === '01' || typeCode === '02';
}
