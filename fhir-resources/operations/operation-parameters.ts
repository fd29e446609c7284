import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue, Parameters, ParametersParameter, Reference, Resource } from '@medplum/fhirtypes';
import type { ParamShape, ParamSpec } from './operation';

/*
 * Parameters in and out of an operation, checked against its declaration. Errors name the parameter as
 * `Parameters.parameter[<name>]` (nested: `Parameters.parameter[payment].part[channel]`), the form the front
 * ends already match on.
 */

const PRIMITIVE_CHECKS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string' && v.length > 0,
  markdown: (v) => typeof v === 'string' && v.length > 0,
  code: (v) => typeof v === 'string' && /^[^\s]+( [^\s]+)*$/.test(v),
  id: (v) => typeof v === 'string' && /^[A-Za-z0-9\-.]{1,64}$/.test(v),
  uri: (v) => typeof v === 'string' && v.length > 0 && !/\s/.test(v),
  canonical: (v) => typeof v === 'string' && v.length > 0 && !/\s/.test(v),
  date: (v) => typeof v === 'string' && /^\d{4}(-\d{2}(-\d{2})?)?$/.test(v),
  dateTime: (v) => typeof v === 'string' && /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/.test(v),
  instant: (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v),
  time: (v) => typeof v === 'string' && /^\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(v),
  boolean: (v) => typeof v === 'boolean',
  integer: (v) => Number.isInteger(v),
  positiveInt: (v) => Number.isInteger(v) && (v as number) > 0,
  unsignedInt: (v) => Number.isInteger(v) && (v as number) >= 0,
  decimal: (v) => typeof v === 'number' && Number.isFinite(v),
};

function valueKey(type: string): string {
  return `value${type[0].toUpperCase()}${type.slice(1)}`;
}

function problem(expression: string, diagnostics: string, code: OperationOutcomeIssue['code'] = 'invalid'): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, details: { text: diagnostics }, expression: [expression] };
}

function throwIssues(issues: OperationOutcomeIssue[]): void {
  if (issues.length) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
}

function referenceTypeOf(ref: Reference): string | undefined {
  const r = ref.reference;
  if (!r || r.startsWith('#') || r.startsWith('urn:')) return undefined;
  const parts = r.split('?')[0].split('/');
  // `Patient/1`, `Patient/1/_history/2` or an absolute URL ending in one of them
  const hist = parts.indexOf('_history');
  return hist >= 2 ? parts[hist - 2] : parts[parts.length - 2];
}

function decodeOne(p: ParametersParameter, s: ParamSpec, where: string, issues: OperationOutcomeIssue[]): unknown {
  const given = Object.keys(p).filter((k) => k.startsWith('value') || k === 'resource' || k === 'part');
  if (s.kind === 'parts') {
    if (!p.part || given.some((k) => k !== 'part')) {
      issues.push(problem(where, `Parameter needs parts (${Object.keys(s.parts ?? {}).join(', ')})`));
      return undefined;
    }
    return decodeShape(p.part, s.parts ?? {}, `${where}.part`, issues);
  }
  if (s.kind === 'resource') {
    const r = p.resource as Resource | undefined;
    if (!r || given.length !== 1 || typeof r !== 'object' || typeof r.resourceType !== 'string') {
      issues.push(problem(where, `Parameter needs a resource${s.type === 'Resource' ? '' : ` of type ${s.type}`}`));
      return undefined;
    }
    if (s.type !== 'Resource' && r.resourceType !== s.type) {
      issues.push(problem(where, `Parameter needs a ${s.type}, got a ${r.resourceType}`));
      return undefined;
    }
    return r;
  }
  const key = valueKey(s.type);
  const value = (p as unknown as Record<string, unknown>)[key];
  if (value === undefined || given.length !== 1) {
    issues.push(problem(where, `Parameter needs ${key}${given.length ? ` (got ${given.join(', ')})` : ''}`));
    return undefined;
  }
  if (s.kind === 'primitive') {
    if (!PRIMITIVE_CHECKS[s.type]?.(value)) {
      issues.push(problem(where, `${JSON.stringify(value)} is not a valid ${s.type}`));
      return undefined;
    }
    return value;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push(problem(where, `${key} must be a ${s.type} object`));
    return undefined;
  }
  if (s.type === 'Reference' && s.targets?.length) {
    const t = referenceTypeOf(value as Reference);
    if (!t || !s.targets.includes(t as never)) {
      issues.push(problem(where, `Reference must point to ${s.targets.join(' or ')}`));
      return undefined;
    }
  }
  return value;
}

function decodeShape(given: ParametersParameter[], shape: ParamShape, prefix: string, issues: OperationOutcomeIssue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const byName = new Map<string, ParametersParameter[]>();
  for (const p of given) {
    if (!p || typeof p.name !== 'string') {
      issues.push(problem(prefix, 'Every parameter needs a name', 'required'));
      continue;
    }
    if (!(p.name in shape)) {
      issues.push(problem(`${prefix}[${p.name}]`, `Unknown parameter "${p.name}"; this operation takes ${Object.keys(shape).join(', ') || 'none'}`, 'not-supported'));
      continue;
    }
    byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  }
  for (const [name, s] of Object.entries(shape)) {
    const where = `${prefix}[${name}]`;
    const list = byName.get(name) ?? [];
    if (list.length < s.min) {
      issues.push(problem(where, s.min === 1 ? `Parameter "${name}" is required` : `Parameter "${name}" needs at least ${s.min} values`, 'required'));
      continue;
    }
    if (s.max !== '*' && list.length > s.max) {
      issues.push(problem(where, `Parameter "${name}" takes at most ${s.max} value${s.max === 1 ? '' : 's'}, got ${list.length}`));
      continue;
    }
    const values = list.map((p) => decodeOne(p, s, where, issues));
    out[name] = s.max === 1 ? values[0] : values;
  }
  return out;
}

/** Input Parameters → the run function's values; a 400 OperationOutcome listing every problem otherwise. */
export function decodeParameters(body: Parameters, shape: ParamShape): Record<string, unknown> {
  const issues: OperationOutcomeIssue[] = [];
  if (body.parameter !== undefined && !Array.isArray(body.parameter)) {
    throwIssues([problem('Parameters.parameter', 'Parameters.parameter must be a list')]);
  }
  const values = decodeShape(body.parameter ?? [], shape, 'Parameters.parameter', issues);
  throwIssues(issues);
  return values;
}

/**
 * GET query → Parameters (only primitives and References come this way): `patient=Patient/1` becomes
 * valueReference, `count=3` valueInteger for an integer parameter, and so on.
 */
export function parametersFromQuery(query: Record<string, string | string[] | undefined>, shape: ParamShape): Parameters {
  const parameter: ParametersParameter[] = [];
  for (const [name, raw] of Object.entries(query)) {
    const s = shape[name];
    for (const text of ([] as string[]).concat(raw ?? [])) {
      if (!s) { parameter.push({ name, valueString: text }); continue; }
      let value: unknown = text;
      if (s.type === 'Reference') value = { reference: text };
      else if (s.type === 'boolean') value = text === 'true' ? true : text === 'false' ? false : text;
      else if (['integer', 'positiveInt', 'unsignedInt', 'decimal'].includes(s.type) && text.trim() !== '' && !Number.isNaN(Number(text))) value = Number(text);
      parameter.push({ name, [valueKey(s.type)]: value } as ParametersParameter);
    }
  }
  return { resourceType: 'Parameters', parameter };
}

function encodeShape(values: Record<string, unknown>, shape: ParamShape, prefix: string): ParametersParameter[] {
  const out: ParametersParameter[] = [];
  for (const [name, s] of Object.entries(shape)) {
    const v = values[name];
    const list = v === undefined ? [] : Array.isArray(v) && s.max !== 1 ? v : [v];
    if (list.length < s.min) {
      // The operation broke its own declaration: a server fault, not the caller's.
      throw new OperationOutcomeError({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'exception', diagnostics: `Operation produced no value for output ${prefix}[${name}]`, expression: [`${prefix}[${name}]`] }],
      });
    }
    for (const item of list) {
      if (s.kind === 'resource') out.push({ name, resource: item as Resource });
      else if (s.kind === 'parts') out.push({ name, part: encodeShape(item as Record<string, unknown>, s.parts ?? {}, `${prefix}[${name}].part`) });
      else out.push({ name, [valueKey(s.type)]: item } as ParametersParameter);
    }
  }
  return out;
}

/** The run function's result → output Parameters. */
export function encodeParameters(values: Record<string, unknown>, shape: ParamShape): Parameters {
  return { resourceType: 'Parameters', parameter: encodeShape(values ?? {}, shape, 'Parameters.parameter') };
}
