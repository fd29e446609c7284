import type { Resource } from '@medplum/fhirtypes';

/**
 * What the search index needs from field encryption (fhir-resources/privacy): protected values are indexed as keyed
 * digests, never as plain text, and a token search on them compares digests, so `Patient?identifier=<system>|<ID
 * number>` still finds the patient while the index holds nothing readable.
 */
export interface IndexPrivacy {
  /** The resource as the index sees it: protected values replaced by their digests, free-text parts left out. */
  forIndex(resource: Resource): Resource;
  /** The stored form of a token search value for this parameter: its digest when protected, else undefined. */
  searchToken(resourceType: string, param: string, value: string): string | undefined;
}
