/**
 * Plain checks for the few R4 invariants that channel traffic evaluates all day (an ORU's Observations and reference
 * ranges, every extension), which settle the common cases without the FHIRPath engine: those evaluations were an
 * eighth of validation's time. A check answers true only where the invariant plainly holds, and undefined where it
 * cannot tell, and then the expression is evaluated as before. Each is bound to the expression text it was written
 * for, so a definitions package that changes an expression turns its check off.
 */

type Element = Record<string, unknown>;

interface NativeInvariant { expression: string; holds(value: Element): true | undefined }

const present = (value: Element, key: string): boolean => {
  const v = value[key];
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
};
const absent = (value: Element, key: string): boolean => value[key] === undefined;

/**
 * Whether the element has a `value[x]`: true or false where its keys say so plainly; undefined where a primitive's
 * `_value…` sibling (an extension on the value) would need the engine's view of it.
 */
function hasChoiceValue(value: Element): boolean | undefined {
  let found = false;
  for (const key in value) {
    if (key.startsWith('_')) return undefined;
    if (key.length > 5 && key.startsWith('value') && key[5] >= 'A' && key[5] <= 'Z' && value[key] !== undefined) found = true;
  }
  return found;
}

const NATIVE: Record<string, NativeInvariant> = {
  'ext-1': {
    expression: 'extension.exists() != value.exists()',
    holds: (v) => {
      const hasValue = hasChoiceValue(v);
      if (hasValue === undefined) return undefined;
      const hasExtension = Array.isArray(v.extension) && v.extension.length > 0;
      if (!hasExtension && v.extension !== undefined) return undefined;
      return hasExtension !== hasValue ? true : undefined;
    },
  },
  'obs-6': {
    expression: 'dataAbsentReason.empty() or value.empty()',
    holds: (v) => (absent(v, 'dataAbsentReason') || hasChoiceValue(v) === false ? true : undefined),
  },
  'obs-7': {
    expression: 'value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()',
    holds: (v) => (absent(v, 'component') || hasChoiceValue(v) === false ? true : undefined),
  },
  'obs-3': {
    expression: 'low.exists() or high.exists() or text.exists()',
    holds: (v) => (present(v, 'low') || present(v, 'high') || present(v, 'text') ? true : undefined),
  },
};

/** The plain check for an invariant, or undefined where it has none (or its expression is not the one known). */
export function nativeInvariant(key: string, expression: string): ((value: Element) => true | undefined) | undefined {
  const known = NATIVE[key];
  return known && known.expression === expression ? known.holds : undefined;
}
