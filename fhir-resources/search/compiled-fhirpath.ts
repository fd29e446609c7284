import {
  AsAtom, capitalize, DotAtom, FhirPathAtom, getElementDefinition, getTypedPropertyValue, isEmpty, isResource,
  removeDuplicates, SymbolAtom, TypedValue, UnionAtom,
} from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';

/**
 * A search parameter's parsed FHIRPath evaluated with the same results as @medplum/core's `evalFhirPathTyped`, faster
 * for the navigation that nearly every parameter is made of (`Observation.subject`, `Observation.component.code`):
 * the element behind each step is looked up once per (type, name) instead of at every step of every resource, and
 * the evaluator's per-step closures and variable look-ups are skipped. Everything else — `where(…)`, `as`, `ofType`,
 * `resolve()`, a choice element, a primitive with an extension sibling, a contained resource — is handed to
 * @medplum/core itself, atom by atom, so what it answers cannot drift from the library's own evaluation.
 * (Indexing every parameter of an Observation took ~165 µs, two thirds of it in the evaluator's navigation; every read
 * evaluates the compartment's references for its audit record.)
 */

/** The part of @medplum/core's atom interface used here (its types are not exported by name). */
interface Atom {
  eval(context: AtomContext, input: TypedValue[]): TypedValue[];
}

interface AtomContext {
  parent?: AtomContext;
  variables: Record<string, TypedValue>;
}

type Step = (input: TypedValue[], context: AtomContext) => TypedValue[];

const compiled = new WeakMap<object, Step>();

/** `expression`'s values on `resource` (a typed root), as `evalFhirPathTyped(expression, [root], variables)` gives them. */
export function evaluatePath(expression: object, root: TypedValue, variables: Record<string, TypedValue>): TypedValue[] {
  let step = compiled.get(expression);
  if (!step) compiled.set(expression, (step = compile(expression as Atom)));
  return step([root], { variables }).map((v) => ({ type: v.type, value: v.value?.valueOf() }));
}

function compile(atom: Atom): Step {
  if (atom instanceof FhirPathAtom) {
    const child = compile(atom.child as unknown as Atom);
    // As FhirPathAtom.eval: each input item is `$this` of its own evaluation.
    return (input, context) => {
      if (input.length === 0) return child([], context);
      const out: TypedValue[] = [];
      for (const item of input) out.push(...child([item], { parent: context, variables: { $this: item } }));
      return out;
    };
  }
  if (atom instanceof DotAtom) {
    const left = compile(atom.left as unknown as Atom);
    const right = atom.right instanceof SymbolAtom ? propertyStep(atom.right) : compile(atom.right as unknown as Atom);
    return (input, context) => right(left(input, context), context);
  }
  if (atom instanceof SymbolAtom) return propertyStep(atom);
  if (atom instanceof AsAtom && atom.right instanceof SymbolAtom) {
    // As AsAtom.eval (the library's ofType): the values whose type is the one named.
    const left = compile(atom.left as unknown as Atom);
    const type = atom.right.name;
    return (input, context) => left(input, context).filter((v) => v.type === type);
  }
  if (atom instanceof UnionAtom) {
    const left = compile(atom.left as unknown as Atom);
    const right = compile(atom.right as unknown as Atom);
    return (input, context) => removeDuplicates([...left(input, context), ...right(input, context)]);
  }
  return (input, context) => atom.eval(context, input);
}

/**
 * A symbol: the resource itself when it names the resource's type, else the element of that name. Variables (`%x`,
 * `$this`) are left to the library.
 */
function propertyStep(symbol: SymbolAtom): Step {
  const name = symbol.name;
  if (name.startsWith('%') || name.startsWith('$')) return (input, context) => symbol.eval(context as never, input);
  return (input) => {
    const out: TypedValue[] = [];
    for (const tv of input) {
      const value = tv.value;
      if (!value || typeof value !== 'object') continue;
      if (isResource(value, name as ResourceType)) {
        out.push(tv);
        continue;
      }
      const found = elementValue(tv, name);
      if (Array.isArray(found)) {
        for (const v of found) if (v?.value !== undefined) out.push(v);
      } else if (found?.value !== undefined) out.push(found);
    }
    return out;
  };
}

/** Where an element's value can be: its key in the JSON (`value` or, for a choice, `valueQuantity`…) and its type. */
interface Candidate { key: string; type: string }

/** Per type, per element name: where its value can be, or null where the library must look (see elementValue). */
const elements = new Map<string, Map<string, Candidate[] | null>>();

/**
 * `getTypedPropertyValue(tv, name)`, with the element's definition looked up once: the first candidate key present
 * gives the value and its type, as the library's search of the element's types does. Left to the library: a value
 * with a `_key` sibling (a primitive's id or extensions, merged there), a resource-typed element, an element this
 * look-up does not know.
 */
function elementValue(tv: TypedValue, name: string): TypedValue | TypedValue[] | undefined {
  let byName = elements.get(tv.type);
  if (!byName) elements.set(tv.type, (byName = new Map()));
  let candidates = byName.get(name);
  if (candidates === undefined) byName.set(name, (candidates = candidatesOf(tv.type, name)));
  if (candidates === null) return getTypedPropertyValue(tv, name);
  const value = tv.value as Record<string, unknown>;
  for (const { key, type } of candidates) {
    if (value['_' + key] !== undefined) return getTypedPropertyValue(tv, name);
    const v = value[key];
    if (v === undefined) continue;
    if (isEmpty(v)) return undefined;
    return Array.isArray(v) ? v.map((item) => ({ type, value: item })) : { type, value: v };
  }
  return undefined;
}

function candidatesOf(type: string, name: string): Candidate[] | null {
  const element = getElementDefinition(type, name);
  if (!element || element.type.length === 0) return null;
  const last = element.path.slice(element.path.lastIndexOf('.') + 1);
  // The element's own name, or its choice (a content reference's path names the element it copies: the library's).
  if (last !== name && last !== `${name}[x]`) return null;
  const candidates: Candidate[] = [];
  for (const { code } of element.type) {
    if (code === 'Resource') return null;
    const key = last.replace('[x]', capitalize(code));
    // An Element or BackboneElement value takes the element's first type, as in the library.
    candidates.push({ key, type: code === 'Element' || code === 'BackboneElement' ? element.type[0].code : code });
  }
  return candidates;
}
