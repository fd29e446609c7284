import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Limits that protect the server before any FHIR-aware code touches a body: the structural validator and the
 * FHIRPath engine recurse, so a body nested a few thousand levels deep overflows the stack, and a huge array makes
 * every later pass slow. Depth counts JSON objects and arrays as parsers do (`{"a":[{}]}` is 3 deep). The deepest
 * R4 resources in practice (Questionnaire items nested inside a Bundle entry) stay far below 32.
 */
export const MAX_NESTING_DEPTH = 32;
/** Bundle.entry of a transaction is the largest legitimate array; a batch larger than this is split by the sender. */
export const MAX_ARRAY_LENGTH = 10_000;

/**
 * Issues for a body that is not a JSON object with a `resourceType`, nests deeper than MAX_NESTING_DEPTH or holds an
 * array longer than MAX_ARRAY_LENGTH. Iterative on purpose: this must not overflow on the input it exists to refuse.
 * Below an over-deep point nothing more is reported (one issue per branch, not one per level).
 */
export function jsonShapeIssues(body: unknown): OperationOutcomeIssue[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [issue('structure', 'the body must be a JSON object (a FHIR resource)', 'Resource')];
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string' || resourceType === '') {
    return [issue('required', 'the resource has no resourceType', 'Resource.resourceType')];
  }
  return withinLimits(body) ? [] : locatedShapeIssues(body, resourceType);
}

/**
 * The same walk without paths: every write passes it, and building a path string for every object and array of a
 * resource that keeps to the limits was most of its cost.
 */
function withinLimits(body: object): boolean {
  const values: unknown[] = [body];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop() as object;
    const depth = depths.pop() as number;
    if (depth > MAX_NESTING_DEPTH) return false;
    if (Array.isArray(value)) {
      if (value.length > MAX_ARRAY_LENGTH) return false;
      for (const item of value) {
        if (typeof item === 'object' && item !== null) {
          values.push(item);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) {
          values.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
  return true;
}

function locatedShapeIssues(body: object, resourceType: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: resourceType, depth: 1 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as (typeof stack)[number];
    if (depth > MAX_NESTING_DEPTH) {
      issues.push(issue('too-costly', `the JSON nests deeper than ${MAX_NESTING_DEPTH} levels here`, path));
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length > MAX_ARRAY_LENGTH) {
        issues.push(issue('too-costly', `the array has ${value.length} items; at most ${MAX_ARRAY_LENGTH} are accepted`, path));
        continue;
      }
      for (let i = value.length - 1; i >= 0; i--) pushIfContainer(stack, value[i], `${path}[${i}]`, depth + 1);
    } else {
      const keys = Object.keys(value as object);
      for (let i = keys.length - 1; i >= 0; i--) {
        pushIfContainer(stack, (value as Record<string, unknown>)[keys[i]], `${path}.${keys[i]}`, depth + 1);
      }
    }
  }
  return issues;
}

function pushIfContainer(stack: { value: unknown; path: string; depth: number }[], value: unknown, path: string, depth: number): void {
  if (typeof value === 'object' && value !== null) stack.push({ value, path, depth });
}

function issue(code: OperationOutcomeIssue['code'], diagnostics: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}
