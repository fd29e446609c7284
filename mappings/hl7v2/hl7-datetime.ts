import { MappingProblem } from './mapping-problem';

/**
 * HL7 v2 DT / TS / DTM (`YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`, §2.A.22) into FHIR `date` / `dateTime` / `instant`.
 * FHIR requires a time zone once hours are given (dateTime, R4 §2.24.0.1), so times sent without one get the
 * channel's offset: HL7 defines them as the sender's local time. Domestic systems also send `YYYY-MM-DD HH:MM:SS`,
 * which is accepted. A value that is no real date is a MappingProblem naming the field, never a guess.
 */
const HL7_TS = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;
const ISO_LIKE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

interface Parts {
  year: string;
  month?: string;
  day?: string;
  hour?: string;
  minute?: string;
  second?: string;
  fraction?: string;
  offset?: string;
}

function parts(value: string): Parts | undefined {
  const m = HL7_TS.exec(value) ?? ISO_LIKE.exec(value);
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second, fraction, offset] = m;
  return { year, month, day, hour, minute, second, fraction, offset };
}

function problemIn(p: Parts): string | undefined {
  const month = Number(p.month ?? 1);
  const day = Number(p.day ?? 1);
  if (month < 1 || month > 12) return `month ${p.month} does not exist`;
  const daysInMonth = new Date(Date.UTC(Number(p.year), month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return `day ${p.day} does not exist in ${p.year}-${p.month}`;
  if (Number(p.hour ?? 0) > 23) return `hour ${p.hour} does not exist`;
  if (Number(p.minute ?? 0) > 59) return `minute ${p.minute} does not exist`;
  // 60 is a leap second, which HL7 allows and FHIR does not: refuse it rather than shift the time.
  if (Number(p.second ?? 0) > 59) return `second ${p.second} does not exist`;
  if (p.offset && (Number(p.offset.slice(1, 3)) > 14 || Number(p.offset.slice(3)) > 59)) return `time zone ${p.offset} does not exist`;
  if (Number(p.year) < 1800) return `year ${p.year} is before 1800`;
  return undefined;
}

function read(value: string, where: string): Parts {
  const p = parts(value.trim());
  const problem = p ? problemIn(p) : 'it is not in the form YYYYMMDDHHMMSS[+ZZZZ]';
  if (!p || problem) throw new MappingProblem('value', where, `${where} '${value}' is not a valid HL7 date/time: ${problem}`);
  return p;
}

/** FHIR `dateTime` at the precision sent; undefined for an empty value. */
export function fhirDateTime(value: string, where: string, utcOffset: string): string | undefined {
  if (!value) return undefined;
  const p = read(value, where);
  let out = p.year;
  if (p.month) out += `-${p.month}`;
  if (p.day) out += `-${p.day}`;
  if (!p.hour) return out;
  // FHIR dateTime has no hour-only or minute-only form: the missing parts are zero, as HL7 reads them.
  out += `T${p.hour}:${p.minute ?? '00'}:${p.second ?? '00'}`;
  if (p.fraction) out += `.${p.fraction}`;
  return out + (p.offset ? `${p.offset.slice(0, 3)}:${p.offset.slice(3)}` : utcOffset);
}

/** FHIR `date` (a birth date sent as TS keeps its day); undefined for an empty value. */
export function fhirDate(value: string, where: string): string | undefined {
  if (!value) return undefined;
  const p = read(value, where);
  return [p.year, p.month, p.day].filter(Boolean).join('-');
}

/** FHIR `instant` when the value is precise to the minute at least, else undefined (instant needs seconds). */
export function fhirInstant(value: string, where: string, utcOffset: string): string | undefined {
  if (!value) return undefined;
  const p = read(value, where);
  return p.minute ? fhirDateTime(value, where, utcOffset) : undefined;
}

/** `dateTime` plus a duration, written in the start's own UTC offset (an appointment end from start + AIS-7). */
export function addMinutes(dateTime: string, minutes: number): string {
  const offset = /([+-]\d{2}:\d{2}|Z)$/.exec(dateTime)?.[1] ?? '+00:00';
  const sign = offset === 'Z' ? 1 : offset[0] === '-' ? -1 : 1;
  const offsetMinutes = offset === 'Z' ? 0 : sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const shifted = new Date(Date.parse(dateTime) + (minutes + offsetMinutes) * 60_000).toISOString();
  return `${shifted.slice(0, 19)}${offset}`;
}
