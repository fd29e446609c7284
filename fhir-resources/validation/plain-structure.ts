import {
  evalFhirPathTyped, InternalTypeSchema, isPrimitiveType, parseFhirPath, toTypedValue, tryGetDataType, TypedValue,
  validationRegexes,
} from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { hasAnyRoot, presentRoots } from '../search/parameter-roots';
import { elementOfKey, KeyElement } from './element-keys';
import { invariantRoots } from './invariant-roots';
import { nativeInvariant } from './native-invariants';

/**
 * A quick proof that @medplum/core's `validateResource` would find no error in a resource, for the resources channels
 * write all day: plain JSON that keeps to the base R4 structure. It walks the resource's own keys with each type's
 * element table looked up once, where the library walks every element of every type's schema (an Observation
 * has 30-odd, most absent) and looks each one up anew: validation was a quarter of the CPU of an HL7 v2 message.
 *
 * It checks what the library checks — known elements, single or array, cardinality, required elements, empty values,
 * the JSON type, length and format of primitives, and the invariants the library evaluates (the resource's own and
 * its elements', through the same FHIRPath engine). Wherever it would have to know more — a primitive's `_element`,
 * a contained or nested resource, a fixed value or pattern, slicing, two values for one choice, a null, an invariant
 * that is not plainly true — it answers false and the caller asks the library, whose issues and wording stay the
 * only ones a client sees. A differential test holds it to that on the fixtures and thousands of broken variants.
 */
export function plainlyValid(resource: Resource): boolean {
  const schema = schemaOf(resource.resourceType, true);
  if (!schema) return false;
  const root = toTypedValue(resource);
  const variables = { '%resource': root, '%rootResource': root };
  return invariantsHold(schema.constraints, root, variables) && objectValid(resource as unknown as Record<string, unknown>, schema, variables, true);
}

/** Invariants the library does not evaluate (validation.ts: ele-1 is checked as structure, the others are broken). */
const SKIPPED_INVARIANTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

/** The JSON type of each FHIR primitive's value (the library's table; a type missing here is left to it). */
const JSON_TYPES: Record<string, string> = {
  base64Binary: 'string', boolean: 'boolean', canonical: 'string', code: 'string', date: 'string', dateTime: 'string',
  decimal: 'number', id: 'string', instant: 'string', integer: 'number', integer64: 'string', markdown: 'string',
  oid: 'string', positiveInt: 'number', string: 'string', time: 'string', unsignedInt: 'number', uri: 'string',
  url: 'string', uuid: 'string', xhtml: 'string', 'http://hl7.org/fhirpath/System.String': 'string',
};

const UCUM = toTypedValue('http://unitsofmeasure.org');
const MAX_STRING = 1024 * 1024;

/** A resource type's schema (`resource`) or a data type's, or undefined where the type is not of that kind. */
function schemaOf(type: string, resource: boolean): InternalTypeSchema | undefined {
  const schema = tryGetDataType(type);
  return schema && (schema.kind === 'resource') === resource ? schema : undefined;
}

const requiredByType = new WeakMap<InternalTypeSchema, string[]>();

/** The names of a type's elements that must be present (min > 0), once per type. */
function requiredElements(schema: InternalTypeSchema): string[] {
  let names = requiredByType.get(schema);
  if (!names) requiredByType.set(schema, (names = Object.entries(schema.elements).filter(([, e]) => e.min > 0).map(([name]) => name)));
  return names;
}

function objectValid(value: Record<string, unknown>, schema: InternalTypeSchema, variables: Record<string, TypedValue>, isRoot: boolean): boolean {
  const seen = new Set<string>();
  for (const key of Object.keys(value)) {
    if (isRoot && key === 'resourceType') continue;
    const target = elementOfKey(schema, key);
    if (!target) return false; // unknown, a primitive's _element, or a shape left to the library
    const v = value[key];
    if (v === undefined) continue; // absent to the library as well; the key is a known element
    if (seen.has(target.elementName)) return false; // two values for one choice
    seen.add(target.elementName);
    if (!elementValid(v, target, variables)) return false;
  }
  for (const name of requiredElements(schema)) if (!seen.has(name)) return false;
  return true;
}

function elementValid(v: unknown, { element, type }: KeyElement, variables: Record<string, TypedValue>): boolean {
  if (v === null || element.slicing || element.fixed || element.pattern) return false;
  if (Array.isArray(v) !== element.isArray) return false;
  const values = Array.isArray(v) ? v : [v];
  if (values.length === 0 || values.length < element.min || values.length > element.max) return false;
  for (const item of values) {
    if (item === null || item === undefined) return false;
    if (isPrimitiveType(type)) {
      if (!primitiveValid(item, type)) return false;
    } else {
      if (type === 'Resource' || typeof item !== 'object' || Array.isArray(item)) return false;
      const schema = schemaOf(type, false);
      if (!schema || Object.keys(item).length === 0) return false;
      if (!objectValid(item as Record<string, unknown>, schema, variables, false)) return false;
    }
    if (element.constraints?.length && !invariantsHold(element.constraints, { type, value: item }, variables)) return false;
  }
  return true;
}

function primitiveValid(item: unknown, type: string): boolean {
  const jsonType = JSON_TYPES[type];
  if (!jsonType || typeof item !== jsonType) return false;
  if (typeof item === 'string') {
    if (!item.trim() || item.length > MAX_STRING) return false;
    const pattern = (validationRegexes as Record<string, RegExp | undefined>)[type];
    return !pattern || pattern.test(item);
  }
  if (typeof item === 'number') {
    if (!Number.isFinite(item)) return false;
    if ((type === 'integer' || type === 'positiveInt' || type === 'unsignedInt') && !Number.isInteger(item)) return false;
    if (type === 'positiveInt' && item <= 0) return false;
    if (type === 'unsignedInt' && item < 0) return false;
  }
  return true;
}

type Invariant = { key: string; severity: string; expression: string };

/**
 * An invariant parsed once, and (`holdsWithout`) the elements it can see when it plainly holds on an element that
 * lacks them all; undefined where that is not known.
 */
interface PreparedInvariant {
  expression: ReturnType<typeof parseFhirPath>;
  holdsWithout?: readonly string[];
  /** A plain check that settles the common cases without the engine (native-invariants.ts). */
  native?: (value: Record<string, unknown>) => true | undefined;
}

const prepared = new WeakMap<Invariant, Map<string, PreparedInvariant>>();

function prepare(invariant: Invariant, type: string): PreparedInvariant {
  let byType = prepared.get(invariant);
  if (!byType) prepared.set(invariant, (byType = new Map()));
  let p = byType.get(type);
  if (!p) {
    const expression = parseFhirPath(invariant.expression);
    const roots = invariantRoots(expression);
    const holds = roots !== undefined && evaluatesTrue(expression, { type, value: {} }, {});
    byType.set(type, (p = { expression, holdsWithout: holds ? [...roots] : undefined, native: nativeInvariant(invariant.key, invariant.expression) }));
  }
  return p;
}

function evaluatesTrue(expression: PreparedInvariant['expression'], context: TypedValue, variables: Record<string, TypedValue>): boolean {
  try {
    const result = evalFhirPathTyped(expression, [context], { ...variables, '%context': context, '%ucum': UCUM });
    return result.length === 1 && result[0].value === true;
  } catch {
    return false;
  }
}

/**
 * Each invariant evaluates to exactly `true`, as the library requires; an error in one counts as not holding. One that
 * can see only elements the context lacks (invariant-roots.ts) has the value it has on an empty element, known once.
 */
function invariantsHold(invariants: Invariant[] | undefined, context: TypedValue, variables: Record<string, TypedValue>): boolean {
  let present: Set<string> | undefined;
  for (const invariant of invariants ?? []) {
    if (invariant.severity !== 'error' || SKIPPED_INVARIANTS.has(invariant.key)) continue;
    let p: PreparedInvariant;
    try {
      p = prepare(invariant, context.type);
    } catch {
      return false;
    }
    if (p.holdsWithout && context.value && typeof context.value === 'object') {
      present ??= presentRoots(Object.keys(context.value));
      if (!hasAnyRoot(present, p.holdsWithout)) continue;
    }
    if (p.native && context.value && typeof context.value === 'object' && p.native(context.value as Record<string, unknown>)) continue;
    if (!evaluatesTrue(p.expression, context, variables)) return false;
  }
  return true;
}
