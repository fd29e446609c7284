import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { searchParametersOf } from '../../fhir-resources/search/search-parameters';

/**
 * Every FHIR resource in the JSON fixtures (the mappings' expected outputs and inputs), bundled and contained ones
 * too: a corpus of real-looking resources for differential tests against @medplum/core.
 */
export function fixtureResources(dir = join(__dirname, '..', 'fixtures')): Resource[] {
  const found: Resource[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) { value.forEach(visit); return; }
    if (!value || typeof value !== 'object') return;
    const r = value as Resource;
    if (typeof r.resourceType === 'string' && Object.keys(searchParametersOf(r.resourceType)).length > 0) found.push(r);
    Object.values(value).forEach(visit);
  };
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...fixtureResources(path));
    else if (name.endsWith('.json')) visit(JSON.parse(readFileSync(path, 'utf8')));
  }
  return found;
}
