import { capitalize, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';

/** The element a JSON key of an object of a type holds: the element, its name in the schema, and the key's type. */
export interface KeyElement {
  element: InternalSchemaElement;
  /** As in the schema: `code`, or `value[x]` for `valueQuantity`. */
  elementName: string;
  type: string;
  /** The key names one type of a choice (`valueQuantity`). */
  choice: boolean;
}

const tables = new WeakMap<InternalTypeSchema, Map<string, KeyElement | null>>();

/**
 * Which element `key` is of `schema` (looked up once per type and key: validation asks it of every key of every
 * object of every resource written): an element of one type by its own name, or a choice by its name and one of its
 * types; undefined for anything else (an unknown key, a primitive's `_key`, an element of several types by name).
 */
export function elementOfKey(schema: InternalTypeSchema, key: string): KeyElement | undefined {
  let table = tables.get(schema);
  if (!table) tables.set(schema, (table = new Map()));
  let found = table.get(key);
  if (found === undefined) table.set(key, (found = findElement(schema, key) ?? null));
  return found ?? undefined;
}

function findElement(schema: InternalTypeSchema, key: string): KeyElement | undefined {
  const direct = schema.elements[key];
  if (direct) {
    if (direct.type.length !== 1 || key.endsWith('[x]')) return undefined;
    return { element: direct, elementName: key, type: direct.type[0].code, choice: false };
  }
  for (const [name, element] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]')) continue;
    const stem = name.slice(0, -3);
    if (!key.startsWith(stem)) continue;
    const suffix = key.slice(stem.length);
    const match = element.type.find((t) => capitalize(t.code) === suffix);
    if (match) return { element, elementName: name, type: match.code, choice: true };
  }
  return undefined;
}
