import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadR4Definitions } from '../../../fhir-resources/definitions';
import { plainlyValid } from '../../../fhir-resources/validation/plain-structure';
import { fixtureResources } from '../../support/fixture-resources';

/** The library's error issues for a resource (none when it is valid). */
function libraryErrors(resource: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (err) {
    if (err instanceof OperationOutcomeError) return (err.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return [{ severity: 'error', code: 'exception', diagnostics: String(err) }];
  }
}

type Json = Record<string, unknown>;
type Path = Array<string | number>;

/** Paths of every object in `value` (the resource itself first). */
function objectPaths(value: unknown, path: Path = []): Path[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objectPaths(v, [...path, i]));
  if (!value || typeof value !== 'object') return [];
  return [path, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...path, k]))];
}

function at(root: unknown, path: Path): Json {
  return path.reduce<unknown>((node, step) => (node as Json)[step as string], root) as Json;
}

/** Broken variants of a resource: each change made at each object of it, one change per variant. */
function* mutations(resource: Resource): Generator<[string, Resource]> {
  for (const path of objectPaths(resource)) {
    const keys = Object.keys(at(resource, path));
    const variant = (label: string, change: (node: Json) => void): [string, Resource] => {
      const copy = structuredClone(resource);
      change(at(copy, path));
      return [`${path.join('.')}: ${label}`, copy];
    };
    yield variant('unknown key', (n) => { n.bogus = 1; });
    yield variant('emptied', (n) => { for (const k of Object.keys(n)) if (k !== 'resourceType') delete n[k]; });
    yield variant('only an id', (n) => { for (const k of Object.keys(n)) if (k !== 'resourceType') delete n[k]; n.id = 'x'; });
    yield variant('a second choice', (n) => { if (keys.some((k) => /^value[A-Z]/.test(k))) n.valueString = 'x'; else n.valueBoolean = true; });
    yield variant('a dataAbsentReason', (n) => { n.dataAbsentReason = { text: '未检测' }; });
    yield variant('a comparator', (n) => { n.comparator = '<'; });
    for (const key of keys) {
      if (key === 'resourceType') continue;
      const v = at(resource, path)[key];
      yield variant(`${key} removed`, (n) => { delete n[key]; });
      yield variant(`${key} null`, (n) => { n[key] = null; });
      yield variant(`_${key} added`, (n) => { n[`_${key}`] = { extension: [{ url: 'http://example.org/x', valueString: 'x' }] }; });
      if (Array.isArray(v)) {
        yield variant(`${key} unwrapped`, (n) => { n[key] = (n[key] as unknown[])[0]; });
        yield variant(`${key} empty array`, (n) => { n[key] = []; });
        yield variant(`${key} doubled`, (n) => { n[key] = [...(n[key] as unknown[]), ...(n[key] as unknown[])]; });
        yield variant(`${key} with a null`, (n) => { n[key] = [...(n[key] as unknown[]), null]; });
      } else {
        yield variant(`${key} wrapped`, (n) => { n[key] = [n[key]]; });
      }
      if (typeof v === 'string') {
        for (const bad of ['', '  ', 'x y\u0000', '2024-13-45', 'not-a-code with spaces', 42, true]) {
          yield variant(`${key} = ${JSON.stringify(bad)}`, (n) => { n[key] = bad; });
        }
      } else if (typeof v === 'number') {
        for (const bad of [1.5, -1, 0, Number.NaN, '12']) yield variant(`${key} = ${String(bad)}`, (n) => { n[key] = bad; });
      } else if (typeof v === 'boolean') {
        yield variant(`${key} = "true"`, (n) => { n[key] = 'true'; });
      } else if (v && typeof v === 'object' && !Array.isArray(v)) {
        yield variant(`${key} = {}`, (n) => { n[key] = {}; });
        yield variant(`${key} = "x"`, (n) => { n[key] = 'x'; });
      }
    }
  }
}

const RESOURCES = fixtureResources();
/** Resources that hold no other resource (a Bundle or a contained one is always left to the library). */
const SIMPLE = RESOURCES.filter((r) => r.resourceType !== 'Bundle' && !(r as { contained?: unknown[] }).contained?.length);

/**
 * The mutated corpus: the two largest of each type, every change at every object of them (the whole corpus took ten
 * minutes, mostly in the library's validation of Bundles).
 */
function mutationCorpus(): Resource[] {
  const byType = new Map<string, Resource[]>();
  for (const r of SIMPLE) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
  const size = (r: Resource): number => JSON.stringify(r).length;
  return [...byType.values()].flatMap((list) => [...list].sort((a, b) => size(b) - size(a)).slice(0, 2));
}

describe('plainlyValid', () => {
  beforeAll(() => loadR4Definitions());

  it('is said only of resources the library finds no error in, over the fixtures and their broken variants', () => {
    const falseAccepts: string[] = [];
    let variants = 0;
    let rejected = 0;
    for (const resource of mutationCorpus()) {
      for (const [label, variant] of mutations(resource)) {
        variants += 1;
        const errors = libraryErrors(variant);
        if (errors.length > 0) rejected += 1;
        if (plainlyValid(variant) && errors.length > 0) {
          falseAccepts.push(`${resource.resourceType} ${label}: ${errors.map((e) => e.details?.text ?? e.diagnostics).join('; ')}`);
        }
      }
    }
    expect(falseAccepts.slice(0, 20)).toEqual([]);
    // The variants are mostly broken: the test would notice a walk that accepted them.
    expect(variants).toBeGreaterThan(5_000);
    expect(rejected / variants).toBeGreaterThan(0.5);
  });

  it('spares the library nearly every valid fixture (the point of the quick proof)', () => {
    const valid = SIMPLE.filter((r) => libraryErrors(r).length === 0);
    const plain = valid.filter((r) => plainlyValid(r));
    expect(valid.length).toBeGreaterThan(100);
    expect(plain.length / valid.length).toBeGreaterThan(0.95);
  });

  it('leaves an unknown resource type and a contained resource to the library', () => {
    expect(plainlyValid({ resourceType: 'Nonsense' } as unknown as Resource)).toBe(false);
    expect(plainlyValid({
      resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' },
      medicationReference: { reference: '#m1' }, contained: [{ resourceType: 'Medication', id: 'm1' }],
    })).toBe(false);
    expect(plainlyValid({ resourceType: 'Patient', name: [{ family: '张', given: ['三'] }], gender: 'male', birthDate: '1980-01-02' })).toBe(true);
  });
});
