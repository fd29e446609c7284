import { invalidSearchValue } from './search-context';

/**
 * Search values stand for ranges, not points (R4 search §3.1.1.4.6): `2024-03` is the whole month and `5.4` is
 * [5.35, 5.45). Both sides of every date comparison are ISO instants with ms and Z, so text order is time order.
 */
export interface InstantRange {
  low: string;
  high: string;
}

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export function dateSearchRange(parameter: string, value: string): InstantRange {
  const m = DATE.exec(value);
  if (!m) throw invalidSearchValue(parameter, `"${value}" is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|±hh:mm])`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  if (mo === undefined) return utcRange(Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1));
  const month = Number(mo) - 1;
  if (month > 11) throw invalidSearchValue(parameter, `"${value}" has no month ${mo}`);
  if (d === undefined) return utcRange(Date.UTC(year, month, 1), Date.UTC(year, month + 1, 1));
  const day = Number(d);
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) throw invalidSearchValue(parameter, `"${value}" is not a day of that month`);
  if (h === undefined) return utcRange(Date.UTC(year, month, day), Date.UTC(year, month, day + 1));
  // A time without zone is taken as UTC, the same way the index reads such values.
  const start = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${zone ?? 'Z'}`);
  if (Number.isNaN(start)) throw invalidSearchValue(parameter, `"${value}" is not a valid instant`);
  const width = s === undefined ? 60_000 : frac === undefined ? 1000 : 1;
  return utcRange(start, start + width);
}

function utcRange(startMs: number, endExclusiveMs: number): InstantRange {
  return { low: new Date(startMs).toISOString(), high: new Date(endExclusiveMs - 1).toISOString() };
}

/** `ap` on dates: the search range widened by 10% of its distance from now (at least one day), per R4 §3.1.1.4.6. */
export function approximateDateRange(range: InstantRange, now = Date.now()): InstantRange {
  const low = Date.parse(range.low);
  const high = Date.parse(range.high);
  const gap = Math.max(86_400_000, 0.1 * Math.max(Math.abs(now - low), Math.abs(now - high)));
  return { low: new Date(Math.max(low - gap, -62135596800000)).toISOString(), high: new Date(Math.min(high + gap, 253402300799999)).toISOString() };
}

export interface NumberRange {
  value: number;
  low: number;
  /** Exclusive. */
  high: number;
}

/** The implicit range of a decimal by its significant digits: `100` → [99.5, 100.5), `5.40` → [5.395, 5.405). */
export function numberSearchRange(parameter: string, text: string): NumberRange {
  const m = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) throw invalidSearchValue(parameter, `"${text}" is not a number`);
  const value = Number(text);
  const decimals = (m[3]?.length ?? 0) - Number(m[4] ?? 0);
  const half = 0.5 * 10 ** -decimals;
  return { value, low: value - half, high: value + half };
}

export const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

/** Each value of a comma list may carry its own prefix (`date=lt2020,gt2024`); the parser only reads the first. */
export function splitPrefix(operator: string, value: string): { prefix: string; value: string } {
  const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d+-])/.exec(value);
  if (m) return { prefix: m[1], value: value.slice(2) };
  return { prefix: PREFIXES.has(operator) ? operator : 'eq', value };
}
