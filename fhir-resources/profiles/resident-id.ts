/**
 * 公民身份号码 (GB 11643-1999): 6-digit address code, 8-digit birth date (YYYYMMDD), 3-digit sequence whose last digit
 * is odd for men and even for women, and a check character computed with ISO 7064 MOD 11-2 (`X` stands for 10).
 */

/** Weight of position i is 2^(17-i) mod 11 (GB 11643-1999 §5.2). */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/** Check character indexed by (Σ aᵢ·Wᵢ) mod 11. */
const CHECK_CHARACTERS = '10X98765432';

/**
 * Province-level prefixes a 公民身份号码 can start with: the 31 mainland provinces plus 71 台湾, 81 香港, 82 澳门
 * (GB/T 2260 reserves them; 港澳台居民居住证 numbers use 81/82/83). The rest of the address code is not checked:
 * it is the division at the time of issue, and divisions merged or renamed since stay valid in old numbers.
 */
const PROVINCE_PREFIXES = new Set([
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44',
  '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82', '83',
]);

/** The check character for the first 17 digits, or undefined when `id17` is not 17 digits. */
export function residentIdCheckDigit(id17: string): string | undefined {
  if (!/^\d{17}$/.test(id17)) return undefined;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id17[i]) * WEIGHTS[i];
  return CHECK_CHARACTERS[sum % 11];
}

/**
 * Why `id` is not a valid 18-character 公民身份号码, in plain words, or undefined when it is valid.
 * `today` (YYYY-MM-DD) bounds the birth date; it defaults to the current date in China (UTC+8).
 */
export function residentIdProblem(id: string, today: string = chinaToday()): string | undefined {
  if (!/^\d{17}[\dXx]$/.test(id)) return 'a 居民身份证 number has 17 digits followed by a digit or X';
  if (!PROVINCE_PREFIXES.has(id.slice(0, 2))) return `the first two digits (${id.slice(0, 2)}) are not a province code`;
  const birthDate = birthDateFromDigits(id.slice(6, 14));
  if (!birthDate) return `characters 7–14 (${id.slice(6, 14)}) are not a real date of birth`;
  if (birthDate > today) return `the date of birth in the number (${birthDate}) is in the future`;
  if (birthDate < '1850-01-01') return `the date of birth in the number (${birthDate}) is before 1850`;
  const expected = residentIdCheckDigit(id.slice(0, 17));
  if (id[17].toUpperCase() !== expected) return `the check character is ${id[17]} but the number computes ${expected}`;
  return undefined;
}

export function isValidResidentId(id: string): boolean {
  return residentIdProblem(id) === undefined;
}

/** The birth date (YYYY-MM-DD, the FHIR `date` form) inside a valid number; undefined for an invalid one. */
export function birthDateFromResidentId(id: string): string | undefined {
  return isValidResidentId(id) ? birthDateFromDigits(id.slice(6, 14)) : undefined;
}

/** The FHIR administrative gender the 17th character gives (odd: male, even: female); undefined for an invalid number. */
export function genderFromResidentId(id: string): 'male' | 'female' | undefined {
  if (!isValidResidentId(id)) return undefined;
  return Number(id[16]) % 2 === 1 ? 'male' : 'female';
}

function birthDateFromDigits(yyyymmdd: string): string | undefined {
  const year = Number(yyyymmdd.slice(0, 4));
  const month = Number(yyyymmdd.slice(4, 6));
  const day = Number(yyyymmdd.slice(6, 8));
  if (month < 1 || month > 12 || day < 1) return undefined;
  // Day 0 of the next month is the last day of this one; Date.UTC handles leap years.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
}

/** Today's date in China (UTC+8, no daylight saving), as YYYY-MM-DD. */
export function chinaToday(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}
