/**
 * Validation before a write (fhir-resources/validation) per resource, on the resources the HL7 v2 mappings make of the
 * fixture messages (`node dist/bench/validate-resource.js`; BENCH_MS=… per case): @medplum/core's structural
 * validation beside the quick proof that spares it (plain-structure.ts) and the whole of validateResourceForWrite,
 * in one run, so the ratio holds on a host whose speed varies from minute to minute.
 */
import { validateResource } from '@medplum/core';
import { loadR4Definitions } from '../fhir-resources/definitions';
import { plainlyValid } from '../fhir-resources/validation/plain-structure';
import { validateResourceForWrite } from '../fhir-resources/validation/validate-resource';
import { mappedResources, perItem } from './index-rows';

function main(): void {
  loadR4Definitions();
  const resources = mappedResources();
  console.log(`Validation over ${resources.length} resources mapped from the ORU^R01 and ADT^A04 fixtures; ${resources.filter(plainlyValid).length} plainly valid`);
  console.log('| measurement | µs per resource |');
  console.log('|---|---|');
  const library = perItem(resources, (r) => validateResource(r));
  const plain = perItem(resources, (r) => plainlyValid(r));
  console.log(`| @medplum/core validateResource | ${library.toFixed(1)} |`);
  console.log(`| plainlyValid (spares it) | ${plain.toFixed(1)} (${(library / plain).toFixed(1)}× less) |`);
  console.log(`| validateResourceForWrite (all passes) | ${perItem(resources, (r) => validateResourceForWrite(r)).toFixed(1)} |`);
}

main();
