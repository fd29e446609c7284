import { type InternalSchemaElement, type InternalTypeSchema, tryGetDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { elementOfKey } from './element-keys';

/** One element value met while walking a resource, with its FHIR type and the FHIRPath that points at it. */
export interface TypedElement {
  value: unknown;
  /** FHIR type code: `code`, `Coding`, `Identifier`, a backbone type name such as `PatientContact`, … */
  type: string;
  path: string;
  element: InternalSchemaElement;
}

export type TypedElementVisitor = (element: TypedElement) => void;

/**
 * Walks a resource along its R4 StructureDefinition and hands each element value to `visit` with its declared type,
 * so that checks can be written per type (every Coding, every Identifier…) wherever the type occurs, contained and
 * Bundle resources included. Choice elements are named the FHIRPath way (`Observation.value.ofType(Quantity)`);
 * repeating elements carry their index (`Patient.identifier[1].value`). Keys the definition does not know and values
 * of the wrong JSON shape are passed over silently: the structural validation reports them. The `_element` siblings
 * of primitives (their id and extensions) are not walked: no required binding or China rule applies inside them.
 * The caller has already bounded the nesting depth (json-shape-guards.ts), so the recursion cannot overflow.
 */
export function walkTypedElements(resource: Resource, visit: TypedElementVisitor): void {
  walkResource(resource as unknown as Record<string, unknown>, resource.resourceType, visit);
}

function walkResource(resource: Record<string, unknown>, path: string, visit: TypedElementVisitor): void {
  const type = typeof resource.resourceType === 'string' ? resource.resourceType : undefined;
  const schema = type ? tryGetDataType(type) : undefined;
  if (schema) walkObject(resource, schema, path, visit);
}

function walkObject(object: Record<string, unknown>, schema: InternalTypeSchema, path: string, visit: TypedElementVisitor): void {
  // Plain loops: every element of every resource written passes here, and the entry pairs, wrapping arrays and
  // callbacks of the functional form were a twelfth of what a clinical message allocated.
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (key === 'resourceType' || key.charCodeAt(0) === 95 /* _ */ || value === null || value === undefined) continue;
    const resolved = elementOfKey(schema, key);
    if (!resolved) continue;
    const { element, type } = resolved;
    const name = resolved.choice ? `${resolved.elementName.slice(0, -3)}.ofType(${type})` : key;
    const isArray = Array.isArray(value);
    if (isArray !== Boolean(element.isArray)) continue;
    if (!isArray) {
      walkItem(value, type, `${path}.${name}`, element, visit);
      continue;
    }
    for (let i = 0; i < value.length; i++) walkItem(value[i], type, `${path}.${name}[${i}]`, element, visit);
  }
}

function walkItem(item: unknown, type: string, path: string, element: InternalSchemaElement, visit: TypedElementVisitor): void {
  visit({ value: item, type, path, element });
  if (!isPlainObject(item)) return;
  if (type === 'Resource' || type === 'DomainResource') walkResource(item, path, visit);
  else if (isComplexType(type)) {
    const inner = tryGetDataType(type);
    if (inner) walkObject(item, inner, path, visit);
  }
}

/** Primitive types start lower-case (`code`, `dateTime`); FHIRPath system types are URLs. */
function isComplexType(type: string): boolean {
  return /^[A-Z]/.test(type);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
