import {
  convertToSearchableDates, convertToSearchableNumbers, convertToSearchableQuantities, convertToSearchableReferences,
  convertToSearchableStrings, convertToSearchableTokens, convertToSearchableUris, toTypedValue, TypedValue,
} from '@medplum/core';
import type { CodeableConcept, Coding, Identifier, Resource } from '@medplum/fhirtypes';
import type { IndexKind } from './search-migrations';
import { COLUMN_PARAMETERS, parameterDetails, searchParameterEntries, unionsOf } from './search-parameters';
import { hasChinese, INDEXED_TEXT_LENGTH, normalizeText, PinyinKeys, pinyinKeys } from './text-normalization';
import { hasAnyRoot, parameterRoots, presentRoots } from './parameter-roots';
import { parseReferenceTarget } from './reference-target';
import { evaluatePath } from './compiled-fhirpath';

/** Rows of one resource for each index table (without resource_type / resource_id, added by the writer). */
export type IndexRows = Record<IndexKind, Array<Record<string, string | number | null>>>;
type IndexRow = IndexRows[IndexKind][number];

export const MIN_INSTANT = '0001-01-01T00:00:00.000Z';
export const MAX_INSTANT = '9999-12-31T23:59:59.999Z';
/** Open ends of number ranges; finite so that every dialect stores and compares them. */
export const NUMBER_FLOOR = -1e300;
export const NUMBER_CEILING = 1e300;

/** Each index table's own columns (after resource_type and resource_id), as extractIndexRows fills them. */
export const INDEX_COLUMNS: Readonly<Record<IndexKind, readonly string[]>> = {
  token: ['param', 'system', 'value', 'text', 'text_initials', 'text_pinyin'],
  string: ['param', 'value_exact', 'value', 'initials', 'pinyin'],
  reference: ['param', 'target_type', 'target_id', 'reference'],
  date: ['param', 'low', 'high'],
  number: ['param', 'low', 'high'],
  quantity: ['param', 'value', 'system', 'code', 'unit'],
  uri: ['param', 'value'],
};

/** Composite and special parameters are not indexed. */
const INDEXED_TYPES = new Set<string>(['string', 'token', 'reference', 'date', 'number', 'quantity', 'uri']);

export function emptyRows(): IndexRows {
  return { token: [], string: [], reference: [], date: [], number: [], quantity: [], uri: [] };
}

/** `only`: the parameter codes to evaluate (e.g. the compartment's references); all of the type's by default. */
export function extractIndexRows(resource: Resource, only?: readonly string[]): IndexRows {
  const rows = emptyRows();
  const root = toTypedValue(resource);
  const entries = searchParameterEntries(resource.resourceType, only);
  // Passing over parameters whose elements are absent pays for all of a type's parameters, not for a chosen few.
  const present = only ? undefined : presentRoots(Object.keys(resource));
  const unions = unionsOf(resource.resourceType);
  for (const [code, param] of entries) {
    if (COLUMN_PARAMETERS.has(code) || !param.expression || !INDEXED_TYPES.has(param.type) || unions.has(code)) continue;
    const roots = present && parameterRoots(resource.resourceType, param);
    if (present && roots && !hasAnyRoot(present, roots)) continue;
    let values: TypedValue[];
    try {
      values = evaluatePath(parameterDetails(resource.resourceType, param).parsedExpression, root, { '%resource': root, '%rootResource': root });
    } catch {
      // A few R4 expressions use functions the FHIRPath engine lacks (e.g. resolve()-based ones); they stay unindexed.
      continue;
    }
    if (values.length === 0) continue;
    switch (param.type) {
      case 'string': addStrings(rows, code, values); break;
      case 'token': addTokens(rows, code, values); break;
      case 'reference': addReferences(rows, code, values); break;
      case 'date': addDates(rows, code, values); break;
      case 'number': addNumbers(rows, code, values); break;
      case 'quantity': addQuantities(rows, code, values); break;
      case 'uri': addUris(rows, code, values); break;
      default: break;
    }
  }
  return rows;
}

/**
 * Besides the formatted name or address, each part is indexed on its own so that default (starts-with) search finds
 * "Hans Müller" by `muller`; a Chinese name also gets family + given without a space (张三), the way it is written.
 */
const TEXT_PARTS: Record<string, string[]> = {
  HumanName: ['text', 'family', 'given', 'prefix', 'suffix'],
  Address: ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country'],
};

function addStrings(rows: IndexRows, param: string, values: TypedValue[]): void {
  const strings = new Set<string>(convertToSearchableStrings(values));
  for (const tv of values) {
    const parts = TEXT_PARTS[tv.type];
    if (parts) {
      const v = tv.value as Record<string, unknown>;
      for (const name of parts) {
        const part = v[name];
        for (const s of Array.isArray(part) ? part : [part]) if (typeof s === 'string') strings.add(s);
      }
      if (tv.type === 'HumanName' && typeof v.family === 'string' && hasChinese(v.family)) {
        strings.add(v.family + ((v.given as string[] | undefined) ?? []).join(''));
      }
    }
  }
  for (const s of strings) {
    if (!s.trim()) continue;
    const keys = pinyinOf(s);
    rows.string.push({
      param, value_exact: s.slice(0, INDEXED_TEXT_LENGTH), value: normalizeText(s),
      initials: keys?.initials.slice(0, INDEXED_TEXT_LENGTH) ?? null, pinyin: keys?.full.slice(0, INDEXED_TEXT_LENGTH) ?? null,
    });
  }
}

/**
 * Display texts go to the text columns, codes to system and value: @medplum/core's token conversion lists texts as
 * system-less codes, which would make `code=Hemoglobin` match a display; here only `:text` looks at them. A text
 * rides on one of the parameter's code rows (which one does not matter: `:text` asks whether any row of the
 * parameter has it) and gets a row of its own only when there are more texts than codes, which halved the token
 * rows of a coded concept with displays (each row costs its B-tree entries on every write).
 */
function addTokens(rows: IndexRows, param: string, values: TypedValue[]): void {
  const seen = new Set<string>();
  const codeRows: IndexRow[] = [];
  const token = (system: string | undefined, value: string | undefined): void => {
    if (value === undefined && system === undefined) return;
    const key = `${system ?? ''}|${value ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    const row: IndexRow = { param, system: cut(system), value: cut(value), text: null, text_initials: null, text_pinyin: null };
    codeRows.push(row);
    rows.token.push(row);
  };
  const texts = new Set<string>();
  const coding = (c: Coding | undefined): void => {
    if (!c) return;
    token(c.system, c.code);
    if (c.display) texts.add(c.display);
  };
  const concept = (cc: CodeableConcept | undefined): void => {
    if (!cc) return;
    cc.coding?.forEach(coding);
    if (cc.text) texts.add(cc.text);
  };
  for (const tv of values) {
    if (tv.type === 'CodeableConcept') concept(tv.value as CodeableConcept);
    else if (tv.type === 'Coding') coding(tv.value as Coding);
    else if (tv.type === 'Identifier') {
      const id = tv.value as Identifier;
      token(id.system, id.value);
      concept(id.type);
    } else {
      for (const t of convertToSearchableTokens([tv])) token(t.system, t.value);
    }
  }
  let carrier = 0;
  for (const text of texts) {
    const keys = pinyinOf(text);
    const columns = {
      text: normalizeText(text), text_initials: keys?.initials.slice(0, INDEXED_TEXT_LENGTH) ?? null, text_pinyin: keys?.full.slice(0, INDEXED_TEXT_LENGTH) ?? null,
    };
    if (carrier < codeRows.length) Object.assign(codeRows[carrier++], columns);
    else rows.token.push({ param, system: null, value: null, ...columns });
  }
}

function addReferences(rows: IndexRows, param: string, values: TypedValue[]): void {
  for (const reference of new Set(convertToSearchableReferences(values))) {
    if (!reference || reference.startsWith('#')) continue;
    const target = parseReferenceTarget(reference);
    rows.reference.push({ param, target_type: target?.type ?? null, target_id: target?.id ?? null, reference: reference.slice(0, 500) });
  }
}

function addDates(rows: IndexRows, param: string, values: TypedValue[]): void {
  for (const period of convertToSearchableDates(values)) {
    const low = toInstant(period.start) ?? MIN_INSTANT;
    const high = toInstant(period.end) ?? MAX_INSTANT;
    if (period.start === undefined && period.end === undefined) continue;
    rows.date.push({ param, low, high });
  }
}

function addNumbers(rows: IndexRows, param: string, values: TypedValue[]): void {
  for (const [low, high] of convertToSearchableNumbers(values)) {
    if (low === undefined && high === undefined) continue;
    rows.number.push({ param, low: low ?? NUMBER_FLOOR, high: high ?? NUMBER_CEILING });
  }
}

function addQuantities(rows: IndexRows, param: string, values: TypedValue[]): void {
  for (const q of convertToSearchableQuantities(values)) {
    if (typeof q.value !== 'number') continue;
    rows.quantity.push({ param, value: q.value, system: cut(q.system, 255), code: cut(q.code, 64), unit: cut(q.unit, 64) });
  }
}

function addUris(rows: IndexRows, param: string, values: TypedValue[]): void {
  for (const uri of new Set(convertToSearchableUris(values))) if (uri) rows.uri.push({ param, value: uri.slice(0, 500) });
}

/**
 * pinyinKeys, remembered: converting to pinyin was a third of indexing, and the same names, code displays and
 * report titles come back all day. Bounded: emptied when full.
 */
const pinyinMemo = new Map<string, PinyinKeys | undefined>();

function pinyinOf(text: string): PinyinKeys | undefined {
  if (pinyinMemo.has(text)) return pinyinMemo.get(text);
  const keys = pinyinKeys(text);
  if (pinyinMemo.size >= 10_000) pinyinMemo.clear();
  pinyinMemo.set(text, keys);
  return keys;
}

/** An instant as stored: ISO with ms and Z, clamped to years 1..9999 so that it still sorts as text. */
export function toInstant(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  if (iso < MIN_INSTANT) return MIN_INSTANT;
  if (iso.length !== MAX_INSTANT.length || iso > MAX_INSTANT) return MAX_INSTANT;
  return iso;
}

function cut(value: string | undefined, length = 255): string | null {
  return value === undefined ? null : value.slice(0, length);
}
