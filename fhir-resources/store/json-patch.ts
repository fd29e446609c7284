import type { Resource } from '@medplum/fhirtypes';
import { applyPatch, JsonPatchError, Operation } from 'fast-json-patch';
import type { JsonPatchOperation } from './repository';
import { invalidRequest } from './store-outcomes';

/** A JSON Patch applied to a copy of `doc`; an operation that cannot apply is a 400 naming it and why. */
export function applyJsonPatch<T extends Resource>(doc: T, patch: JsonPatchOperation[]): T {
  if (!Array.isArray(patch)) throw invalidRequest('A JSON Patch body must be an array of operations.');
  try {
    return applyPatch(doc, patch as Operation[], true, false).newDocument;
  } catch (err) {
    if (err instanceof JsonPatchError) {
      const op = patch[err.index ?? 0];
      const what = err.name === 'TEST_OPERATION_FAILED' ? 'its "test" failed' : err.message.split('\n')[0];
      throw invalidRequest(`JSON Patch operation ${(err.index ?? 0) + 1} (${op?.op} ${op?.path}) cannot be applied: ${what}.`);
    }
    throw err;
  }
}
