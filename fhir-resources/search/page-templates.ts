import type { SortPlan } from './sort-keys';

/**
 * The page SQL of a search shape that recurs all day (a chart search: one combo row drives it, a sort, a page size),
 * compiled by knex once and then filled in with each search's values. Building and compiling that query with knex
 * was a fifth of a chart search's CPU. The SQL is compiled with markers in place of the values that vary within the
 * shape (the combo value, the cursor's values); their positions among the bindings are remembered, and a later
 * search of the same shape gets the same text with its own values there. What the key does not name cannot vary
 * within a shape: see KnexSearchIndex.templateKey.
 */
export interface PageTemplate {
  sql: string;
  bindings: readonly unknown[];
  /** [binding position, slot]: where slot `n`'s value goes. */
  slots: ReadonlyArray<readonly [number, number]>;
  plan: SortPlan;
}

const MARKER = '\u0000lingshu-slot:';
/** Past this many shapes the cache simply starts over (a shape is a type, a combo, a sort, a page size). */
const MAX_TEMPLATES = 500;

/** The stand-in for slot `n`'s value while the template's SQL is compiled. */
export function slotMarker(n: number): string {
  return `${MARKER}${n}\u0000`;
}

export class PageTemplates {
  private readonly templates = new Map<string, PageTemplate>();

  get(key: string): PageTemplate | undefined {
    return this.templates.get(key);
  }

  /**
   * Remembers the compiled SQL of a page built with slotMarker(0 … slots - 1) for its values, when every marker is
   * found among the bindings, as a binding of its own (a keyset repeats a cursor value in several branches), and
   * none in the text; otherwise knex did something with a value that a template cannot repeat, and the shape is not
   * cached. Returns the template, or undefined.
   */
  remember(key: string, sql: string, bindings: readonly unknown[], slots: number, plan: SortPlan): PageTemplate | undefined {
    const found: Array<readonly [number, number]> = [];
    bindings.forEach((b, position) => {
      if (typeof b === 'string' && b.startsWith(MARKER)) found.push([position, Number(b.slice(MARKER.length, -1))]);
    });
    const numbers = new Set(found.map(([, n]) => n));
    const complete = numbers.size === slots && [...numbers].every((n) => Number.isInteger(n) && n >= 0 && n < slots);
    if (!complete || sql.includes(MARKER)) return undefined;
    if (this.templates.size >= MAX_TEMPLATES) this.templates.clear();
    const template = { sql, bindings: [...bindings], slots: found, plan };
    this.templates.set(key, template);
    return template;
  }
}

/** The template's bindings with `values[n]` in slot n. */
export function bindTemplate(template: PageTemplate, values: readonly unknown[]): unknown[] {
  const bindings = [...template.bindings];
  for (const [position, n] of template.slots) bindings[position] = values[n];
  return bindings;
}
