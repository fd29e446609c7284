/**
 * HL7 v3 TS (yyyyMMdd[HH[mm[ss[.fff]]]][±ZZZZ]) ⇄ FHIR date / dateTime. The 互联互通 messages send local time
 * without a zone; the hospitals run on China Standard Time (UTC+8, no daylight saving), so that is the zone assumed
 * and the zone written.
 */
const TS = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$/;
const CHINA_OFFSET = '+08:00';

interface TsParts {
  year: string; month?: string; day?: string; hour?: string; minute?: string; second?: string; fraction?: string; zone?: string;
}

function parts(ts: string): TsParts | undefined {
  const m = TS.exec(ts);
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = m;
  if (month && (Number(month) < 1 || Number(month) > 12)) return undefined;
  if (day && (Number(day) < 1 || Number(day) > new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate())) return undefined;
  if (hour && Number(hour) > 23) return undefined;
  if (minute && Number(minute) > 59) return undefined;
  if (second && Number(second) > 59) return undefined;
  return { year, month, day, hour, minute, second, fraction, zone };
}

/** A FHIR `date` (YYYY, YYYY-MM or YYYY-MM-DD) from a TS, dropping any time part; undefined when not a real date. */
export function tsToDate(ts: string): string | undefined {
  const p = parts(ts);
  if (!p) return undefined;
  return [p.year, p.month, p.day].filter(Boolean).join('-');
}

/**
 * A FHIR `dateTime` from a TS. A TS with an hour becomes a full time with seconds and zone (FHIR requires both once
 * a time is present); one without stays a date. Undefined when not a real date and time.
 */
export function tsToDateTime(ts: string): string | undefined {
  const p = parts(ts);
  if (!p) return undefined;
  if (!p.hour) return tsToDate(ts);
  const zone = p.zone ? `${p.zone.slice(0, 3)}:${p.zone.slice(3)}` : CHINA_OFFSET;
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute ?? '00'}:${p.second ?? '00'}${p.fraction ?? ''}${zone}`;
}

/** A TS in China time from a FHIR date or dateTime (yyyyMMdd for a date, yyyyMMddHHmmss for a time). */
export function fhirToTs(value: string): string {
  if (!value.includes('T')) return value.replace(/-/g, '');
  const instant = new Date(value);
  const china = new Date(instant.getTime() + 8 * 3600_000).toISOString();
  return china.slice(0, 19).replace(/[-T:]/g, '');
}
