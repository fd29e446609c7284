/**
 * Search parameter extraction (fhir-resources/search/index-rows.ts) per resource, on the resources the HL7 v2 mappings
 * make of the fixture messages (`node dist/bench/index-rows.js`; BENCH_MS=… per case): every parameter of a resource
 * (what a write indexes) and the Patient compartment's references (what every read's audit record asks), through
 * @medplum/core's FHIRPath evaluator beside the compiled navigation (compiled-fhirpath.ts) in the same run, so
 * the ratio holds on a host whose speed varies from minute to minute.
 */
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { compartmentParams, compartmentPatientsOf } from '../fhir-resources/auth/patient-compartment';
import { evaluatePath } from '../fhir-resources/search/compiled-fhirpath';
import { extractIndexRows } from '../fhir-resources/search/index-rows';
import { parameterDetails, searchParametersOf } from '../fhir-resources/search/search-parameters';
import { hl7v2ToBundle, parseHl7 } from '../mappings/hl7v2';
import { rate, standardCases } from './hl7v2-parse';

const MS = Number(process.env.BENCH_MS ?? 2000);

type Evaluate = (expression: object, root: ReturnType<typeof toTypedValue>) => unknown[];
const library: Evaluate = (expression, root) => evalFhirPathTyped(expression as never, [root], { '%resource': root, '%rootResource': root });
const compiled: Evaluate = (expression, root) => evaluatePath(expression, root, { '%resource': root, '%rootResource': root });

/** Evaluates the parameters' expressions on the resource: the FHIRPath part of extractIndexRows, alone. */
function evaluateAll(evaluate: Evaluate, resource: Resource, codes?: readonly string[]): number {
  const root = toTypedValue(resource);
  const all = searchParametersOf(resource.resourceType);
  let n = 0;
  for (const code of codes ?? Object.keys(all)) {
    const param = all[code];
    if (!param?.expression) continue;
    try {
      n += evaluate(parameterDetails(resource.resourceType, param).parsedExpression, root).length;
    } catch {
      // unindexable either way
    }
  }
  return n;
}

/** Microseconds per call of `f` over `items` (hl7v2-parse.ts's rate, over the whole list). */
export function perItem<T>(items: T[], f: (item: T) => unknown): number {
  return 1e6 / rate(() => { for (const item of items) f(item); }, MS) / items.length;
}

/** The resources the HL7 v2 mappings make of the ORU^R01 and ADT^A04 fixtures. */
export function mappedResources(): Resource[] {
  return standardCases().slice(0, 2).flatMap(([, text]) =>
    ((hl7v2ToBundle(parseHl7(text)) as Bundle).entry ?? []).map((e) => e.resource as Resource));
}

function main(): void {
  const resources = mappedResources();
  const inCompartment = resources.filter((r) => compartmentParams(r.resourceType)?.length);
  console.log(`Search parameter extraction over ${resources.length} resources mapped from the ORU^R01 and ADT^A04 fixtures (µs per resource)`);
  console.log('| measurement | @medplum/core FHIRPath | compiled navigation | ratio |');
  console.log('|---|---|---|---|');
  const row = (label: string, a: number, b: number): void =>
    console.log(`| ${label} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / b).toFixed(2)}× |`);
  row('every parameter (a write\'s indexing), FHIRPath only', perItem(resources, (r) => evaluateAll(library, r)), perItem(resources, (r) => evaluateAll(compiled, r)));
  row('compartment references (a read\'s audit record), FHIRPath only', perItem(inCompartment, (r) => evaluateAll(library, r, compartmentParams(r.resourceType))),
    perItem(inCompartment, (r) => evaluateAll(compiled, r, compartmentParams(r.resourceType))));
  console.log(`compartmentPatientsOf as a read's audit record asks it: ${perItem(inCompartment, (r) => compartmentPatientsOf(r)).toFixed(1)} µs per resource`);
  console.log(`extractIndexRows as the store runs it (compiled, with absent elements passed over): ${perItem(resources, (r) => extractIndexRows(r)).toFixed(1)} µs per resource`);
}

if (require.main === module) main();
