import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../definitions';
import { chinaElementIssues, chinaResourceIssues, chinaTerminologyResources } from '../profiles';
import { jsonShapeIssues } from './json-shape-guards';
import { plainlyValid } from './plain-structure';
import { requiredBindingIssue } from './required-bindings';
import { walkTypedElements } from './typed-element-walker';
import { registerTerminology } from './value-set-expansion';

/**
 * Checks a resource before it is written and throws `OperationOutcomeError` listing every problem found, each with
 * plain-words `diagnostics` and the FHIRPath of the element in `expression`:
 *  1. JSON shape guards (json-shape-guards.ts). When these fail nothing else runs: the later passes recurse and would
 *     overflow or crawl on exactly that input.
 *  2. R4 structure: types, cardinality, required elements, invariants (@medplum/core `validateResource`; skipped
 *     where plain-structure.ts proves it would find no error, and run when another pass fails, for its warnings).
 *  3. Code bindings of strength `required` that can be expanded offline (value-set-expansion.ts says which cannot).
 *  4. The China profile rules (../profiles/china-profile-rules.ts says when they apply).
 * Passes 2–4 all run, so a client sees every problem at once.
 */
export function validateResourceForWrite(resource: Resource): void {
  const shapeIssues = jsonShapeIssues(resource);
  if (shapeIssues.length > 0) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: shapeIssues });
  validateShapedResource(resource);
}

/** Passes 2–4 of `validateResourceForWrite`, for a caller that has run the JSON shape guards on this very JSON. */
export function validateShapedResource(resource: Resource): void {
  loadDefinitions();
  const plain = plainlyValid(resource);
  const issues = plain ? [] : structureIssues(resource);
  walkTypedElements(resource, (element) => {
    const bindingIssue = requiredBindingIssue(element);
    if (bindingIssue) issues.push(bindingIssue);
    issues.push(...chinaElementIssues(element));
  });
  issues.push(...chinaResourceIssues(resource));
  if (issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
    // The library's warnings belong in the answer as they always did.
    if (plain) issues.unshift(...structureIssues(resource));
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }
}

let terminologyRegistered = false;

function loadDefinitions(): void {
  loadR4Definitions();
  if (terminologyRegistered) return;
  registerTerminology(chinaTerminologyResources());
  terminologyRegistered = true;
}

/** @medplum/core's issues, given `diagnostics` in plain words (it puts its message in details.text only). */
function structureIssues(resource: Resource): OperationOutcomeIssue[] {
  let raw: OperationOutcomeIssue[];
  try {
    raw = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    raw = err.outcome.issue ?? [];
  }
  return raw.map((i) => ({
    ...i,
    diagnostics: i.details?.text ?? i.diagnostics,
    // An unknown resourceType is the one issue medplum reports without a location.
    expression: i.expression ?? ['Resource.resourceType'],
  }));
}
