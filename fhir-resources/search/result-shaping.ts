import { getDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/**
 * `_summary` and `_elements` (R4 search §3.1.1.5.9–10): what is left is id, meta and the mandatory elements plus what
 * was asked for, and meta carries the SUBSETTED tag so that nobody writes the partial resource back.
 */
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

export function shapeResource(resource: Resource, summary: string | undefined, elements: string[] | undefined): Resource {
  if (elements && elements.length > 0) {
    const wanted = new Set(elements.map((e) => e.split('.')[0]));
    return subset(resource, (name, schema) => wanted.has(name) || matchesChoice(wanted, name) || schema.mandatory(name));
  }
  if (summary === 'true') return subset(resource, (name, schema) => schema.summary(name) || schema.mandatory(name));
  if (summary === 'text') return subset(resource, (name, schema) => name === 'text' || schema.mandatory(name));
  if (summary === 'data') return subset(resource, (name) => name !== 'text');
  return resource;
}

interface ElementFlags {
  summary(name: string): boolean;
  mandatory(name: string): boolean;
}

function subset(resource: Resource, keep: (name: string, flags: ElementFlags) => boolean): Resource {
  const type = getDataType(resource.resourceType);
  const flags: ElementFlags = {
    summary: (name) => inSet(type.summaryProperties, name),
    mandatory: (name) => inSet(type.mandatoryProperties, name),
  };
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource)) {
    if (ALWAYS.has(name) || keep(name, flags)) out[name] = value;
  }
  const meta = { ...(resource.meta ?? {}) };
  meta.tag = [...(meta.tag ?? []).filter((t) => t.code !== SUBSETTED.code), SUBSETTED];
  out.meta = meta;
  return out as unknown as Resource;
}

/** Element names are declared as `value[x]`; a resource holds `valueQuantity`. */
function inSet(names: Set<string> | undefined, name: string): boolean {
  if (!names) return false;
  if (names.has(name)) return true;
  for (const n of names) {
    if (n.endsWith('[x]') && name.startsWith(n.slice(0, -3)) && /^[A-Z]/.test(name.slice(n.length - 3))) return true;
  }
  return false;
}

function matchesChoice(wanted: Set<string>, name: string): boolean {
  for (const w of wanted) if (name.startsWith(w) && /^[A-Z]/.test(name.slice(w.length))) return true;
  return false;
}
