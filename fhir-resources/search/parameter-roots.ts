import { getExpressionForResourceType } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';

/**
 * Which top-level elements a search parameter's values can come from, so that indexing evaluates only the FHIRPath
 * of parameters whose elements the resource has (an Observation has values for a dozen of its 40-odd parameters).
 * Known only for expressions made of paths from the resource (`Observation.component.code`), filtered by `where(…)`,
 * `ofType(…)` and `as Type`, and unions of such: nothing else can make a value appear where the elements are
 * absent. Anything else, e.g. `Patient.deceased.exists() and …`, which is `false` for a Patient without `deceased`,
 * is always evaluated.
 */
const cache = new Map<SearchParameter, Map<string, readonly string[] | null>>();

export function parameterRoots(resourceType: string, param: SearchParameter): readonly string[] | undefined {
  let byType = cache.get(param);
  if (!byType) cache.set(param, (byType = new Map()));
  let roots = byType.get(resourceType);
  if (roots === undefined) {
    const expression = param.expression ? getExpressionForResourceType(resourceType, param.expression) : undefined;
    byType.set(resourceType, (roots = (expression && rootsOf(resourceType, expression)) || null));
  }
  return roots ?? undefined;
}

/**
 * The element names a resource's keys can hold values of: each key itself, also as its `_element` sibling (a
 * primitive's id and extensions), and a choice's name (`value` for `valueQuantity`). Made once per resource, so
 * that each of its type's parameters is judged with a set look-up.
 */
export function presentRoots(keys: readonly string[]): Set<string> {
  const present = new Set<string>();
  for (const key of keys) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    present.add(name);
    for (let i = 1; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c >= 65 && c <= 90) present.add(name.slice(0, i));
    }
  }
  return present;
}

/** True when one of the elements is present (see presentRoots). */
export function hasAnyRoot(present: ReadonlySet<string>, roots: readonly string[]): boolean {
  for (const root of roots) if (present.has(root)) return true;
  return false;
}

function rootsOf(resourceType: string, expression: string): string[] | undefined {
  const roots: string[] = [];
  for (const branch of topLevelBranches(expression)) {
    const path = unwrap(branch.trim());
    const head = new RegExp(`^${resourceType}\\.([A-Za-z][A-Za-z0-9]*)`).exec(path);
    if (!head || !isFilteredPath(path.slice(head[0].length))) return undefined;
    roots.push(head[1]);
  }
  return roots.length > 0 ? roots : undefined;
}

/** `a | (b | c) | d` → its top-level operands. */
function topLevelBranches(expression: string): string[] {
  const branches: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") i = closingQuote(expression, i);
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      branches.push(expression.slice(start, i));
      start = i + 1;
    }
  }
  branches.push(expression.slice(start));
  return branches;
}

/** `((x))` → `x` when the parentheses enclose the whole text. */
function unwrap(text: string): string {
  while (text.startsWith('(') && closingParen(text, 0) === text.length - 1) text = text.slice(1, -1).trim();
  return text;
}

/** The rest of a path after its first element: only navigation and filters, which never add values. */
function isFilteredPath(rest: string): boolean {
  let i = 0;
  while (i < rest.length) {
    const step = /^(?:\.([A-Za-z][A-Za-z0-9]*)(\()?| as [A-Za-z][A-Za-z0-9]*)/.exec(rest.slice(i));
    if (!step) return false;
    i += step[0].length;
    if (step[2] === '(') {
      if (step[1] !== 'where' && step[1] !== 'ofType') return false;
      const close = closingParen(rest, i - 1);
      if (close < 0) return false;
      i = close + 1;
    }
  }
  return true;
}

function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "'") i = closingQuote(text, i);
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === "'") return i;
  }
  return text.length;
}
