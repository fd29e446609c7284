import { Filter } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import type { IndexRows } from './index-rows';
import { BARE_ID, parseReferenceTarget } from './reference-target';
import { searchParameter } from './search-parameters';
import { splitTokenValue } from './token-value';

/**
 * Combined index rows for the searches that a patient's chart makes all day: one patient's results of one test
 * (`Observation?subject=Patient/1&code=718-7`). Separately, the reference index finds the patient's hundreds of
 * Observations and each is then probed in the token index for the code (a 100-row nested loop: ~0.5 ms of SQLite per
 * search, half a search's CPU). A row here holds `<Type>/<id> <code>` for each pair of a reference target and a code
 * of one resource, so the same search is one index range of about ten rows. Like HAPI's non-unique combo search
 * parameters, they are declared, not derived: each costs a row per pair on every write.
 *
 * A row is equivalent to a row in each of the two parameters' own index tables (the same extraction, the same
 * privacy digests of codes), so a search that uses it finds exactly what the two filters would.
 */
export interface ComboDefinition {
  /** The row's `param`. */
  name: string;
  /** A reference parameter, matched by target type and id. */
  reference: string;
  /** A token parameter, matched by code (any system). */
  token: string;
  /**
   * Rows hold the code with its system (`<Type>/<id> <system>|<code>`, codes that have one): they answer a search
   * that names the system, which a row of the code alone would leave to a probe of the token index per candidate
   * (a random page each).
   */
  withSystem?: boolean;
  /**
   * The combo whose pairs are a superset of this one's, because this one's reference parameter is that one's narrowed
   * (`patient` is `subject.where(resolve() is Patient)`). A pair in both is written once, under this combo's name, and
   * a search of the wider combo reads both names: an Observation of a patient then has two combo rows, not four.
   */
  narrows?: string;
}

/**
 * `patient` has combos of its own although it is `subject` narrowed to Patients: its expression (`subject.where(
 * resolve() is Patient)`) does not index an absolute URL that `subject` does, and a combo must match exactly. Such a
 * subject's pair has a row under `subject+…` alone.
 */
const CHART: readonly ComboDefinition[] = [
  { name: 'subject+code', reference: 'subject', token: 'code' },
  { name: 'patient+code', reference: 'patient', token: 'code', narrows: 'subject+code' },
  { name: 'subject+system|code', reference: 'subject', token: 'code', withSystem: true },
  { name: 'patient+system|code', reference: 'patient', token: 'code', withSystem: true, narrows: 'subject+system|code' },
];

export const COMBO_DEFINITIONS: Readonly<Record<string, readonly ComboDefinition[]>> = {
  Observation: CHART,
  DiagnosticReport: CHART,
};

/** The columns of a combo row after resource_type and resource_id. */
export const COMBO_COLUMNS = ['param', 'value', 'date_low', 'date_high'] as const;

/**
 * The parameter whose sort values a combo row carries (`date_low`, `date_high`: the lowest low and the highest high of
 * the resource's rows of it, as sort-keys.ts sorts ascending and descending): a chart is read newest first.
 */
export const COMBO_SORT_PARAM = 'date';

/** `Patient/1 718-7`: types and ids have no spaces, so the pair splits one way only. */
export function comboValue(targetType: string, targetId: string, code: string): string {
  return `${targetType}/${targetId} ${code}`;
}

/**
 * The width of fhir_idx_combo.value. A target and a code always fit; with a long system a value may not, and has no
 * row: a search for that same value (the same length) is then not answered by a combo either, so none is missed.
 */
export const COMBO_VALUE_WIDTH = 400;

/** The combo rows of a resource, from its own index rows (after the privacy digests). */
export function comboRows(resourceType: string, rows: IndexRows): Array<[param: string, value: string, dateLow: string | null, dateHigh: string | null]> {
  const [low, high] = sortDates(rows);
  const combos = COMBO_DEFINITIONS[resourceType] ?? [];
  const valuesOf = new Map<string, Set<string>>();
  for (const combo of combos) {
    const values = new Set<string>();
    const targets = rows.reference.filter((r) => r.param === combo.reference && r.target_type && r.target_id);
    const codes = rows.token.filter((t) => t.param === combo.token && t.value !== null && t.value !== undefined && (!combo.withSystem || systemFits(t.system)));
    for (const target of targets) {
      for (const code of codes) {
        const value = comboValue(String(target.target_type), String(target.target_id), combo.withSystem ? `${code.system}|${code.value}` : String(code.value));
        if (value.length <= COMBO_VALUE_WIDTH) values.add(value);
      }
    }
    valuesOf.set(combo.name, values);
  }
  const out: Array<[string, string, string | null, string | null]> = [];
  for (const combo of combos) {
    const narrower = comboNames(resourceType, combo.name).slice(1).map((name) => valuesOf.get(name)!);
    for (const value of valuesOf.get(combo.name)!) {
      if (!narrower.some((values) => values.has(value))) out.push([combo.name, value, low, high]);
    }
  }
  return out;
}

/** The combo row names a search of `combo` reads: its own, and those of the combos that narrow it (`narrows`). */
export function comboNames(resourceType: string, combo: string): string[] {
  return [combo, ...(COMBO_DEFINITIONS[resourceType] ?? []).filter((c) => c.narrows === combo).map((c) => c.name)];
}

/** The lowest low and the highest high of the resource's COMBO_SORT_PARAM rows; null without any. */
function sortDates(rows: IndexRows): [string | null, string | null] {
  let low: string | null = null;
  let high: string | null = null;
  for (const d of rows.date) {
    if (d.param !== COMBO_SORT_PARAM) continue;
    const l = d.low === null || d.low === undefined ? null : String(d.low);
    const h = d.high === null || d.high === undefined ? null : String(d.high);
    if (l !== null && (low === null || l < low)) low = l;
    if (h !== null && (high === null || h > high)) high = h;
  }
  return [low, high];
}

export interface ComboPlan {
  name: string;
  value: string;
  /** The filters the combo row stands for; the others still apply. */
  consumed: Set<Filter>;
}

/**
 * A combo that answers two of `filters` together: a reference to one resource and one code, both plain (no
 * modifier, no comma-separated alternatives). A code with a system is answered by a combo with systems; where there
 * is none, or the code is `|code` (no system), the code's filter stays, probed on the combo's few rows. `stored`
 * digests a code as the token index stores it.
 */
export function planCombo(resourceType: string, filters: readonly Filter[], stored: (param: string, code: string) => string): ComboPlan | undefined {
  const combos = COMBO_DEFINITIONS[resourceType] ?? [];
  let fallback: ComboPlan | undefined;
  for (const combo of combos) {
    const target = filters.map((f) => ({ f, t: referenceTarget(resourceType, combo, f) })).find((x) => x.t);
    const token = filters.map((f) => ({ f, c: tokenCode(combo, f) })).find((x) => x.c);
    if (!target?.t || !token?.c) continue;
    const { system, code } = token.c;
    if (combo.withSystem) {
      const value = systemFits(system) ? comboValue(target.t.type, target.t.id, `${system}|${stored(combo.token, code)}`) : undefined;
      if (value !== undefined && value.length <= COMBO_VALUE_WIDTH) return { name: combo.name, value, consumed: new Set([target.f, token.f]) };
      continue;
    }
    fallback ??= { name: combo.name, value: comboValue(target.t.type, target.t.id, stored(combo.token, code)), consumed: new Set(system === undefined ? [target.f, token.f] : [target.f]) };
  }
  return fallback;
}

/**
 * A system a combo with systems can hold: one with a bar would make `a|b|c` ambiguous (system `a|b`, or `a` with code
 * `b|c`), so such codes have no row and a search naming one is not answered by a combo.
 */
function systemFits(system: unknown): system is string {
  return typeof system === 'string' && system !== '' && !system.includes('|');
}

function plain(filter: Filter): boolean {
  return filter.operator === 'eq' && !/(?<!\\),/.test(filter.value);
}

function referenceTarget(resourceType: string, combo: ComboDefinition, filter: Filter): { type: string; id: string } | undefined {
  if (filter.code !== combo.reference || !plain(filter)) return undefined;
  const parsed = parseReferenceTarget(filter.value);
  if (parsed) return parsed;
  // A bare id, as filter-conditions' referenceMatch reads it: its type is the parameter's only target type.
  const param: SearchParameter | undefined = searchParameter(resourceType, filter.code);
  if (!BARE_ID.test(filter.value) || param?.target?.length !== 1) return undefined;
  return { type: param.target[0], id: filter.value };
}

function tokenCode(combo: ComboDefinition, filter: Filter): { code: string; system?: string } | undefined {
  if (filter.code !== combo.token || !plain(filter)) return undefined;
  const { system, code } = splitTokenValue(filter.value);
  return code === '' ? undefined : { code, system };
}
