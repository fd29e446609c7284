import { OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { jsonCopy } from '../validation/json-copy';
import { jsonShapeIssues } from '../validation/json-shape-guards';
import { validateShapedResource } from '../validation/validate-resource';
import { invalidRequest } from './store-outcomes';

/** FHIR R4 id: https://hl7.org/fhir/R4/datatypes.html#id */
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Checks what the client sent (id, structure) before any database work, with the server-owned meta fields
 * removed: the store assigns versionId and lastUpdated. Returns the copy the store writes.
 */
export function prepareForWrite<T extends Resource>(resource: T): T {
  if (!resource.id) throw invalidRequest(`An update needs the id of the ${resource.resourceType} in the body.`, `${resource.resourceType}.id`);
  if (!ID_PATTERN.test(resource.id)) {
    throw invalidRequest(`"${resource.id}" is not a valid id: use 1 to 64 letters, digits, "-" or ".".`, `${resource.resourceType}.id`);
  }
  // Shape first: the copy recurses, and a hostile nesting depth would overflow the stack there.
  const shape = jsonShapeIssues(resource);
  if (shape.length > 0) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: shape });
  const copy = jsonCopy(resource);
  if (copy.meta) {
    delete copy.meta.versionId;
    delete copy.meta.lastUpdated;
    if (Object.keys(copy.meta).length === 0) delete copy.meta;
  }
  // The copy is the same JSON as what passed the shape guards above.
  validateShapedResource(copy);
  return copy;
}
