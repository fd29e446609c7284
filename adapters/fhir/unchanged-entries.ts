import { isDeepStrictEqual } from 'node:util';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Repository } from '../../fhir-resources/store/repository';

/** The resource as content: without the id and meta the store assigns. */
function content(resource: Resource): unknown {
  const { id: _id, meta: _meta, ...rest } = JSON.parse(JSON.stringify(resource)) as Resource;
  return rest;
}

/**
 * A `prepare` step for fhirTransaction, for sources re-sent in full (a nightly dictionary sync): a conditional update
 * (`PUT Type?search`) whose one match already holds the same content is left out, so that an unchanged row adds no
 * version, no history entry and no change event. It runs in the writing transaction. The entries may not refer to
 * each other by urn:uuid (a dropped entry's fullUrl would no longer resolve).
 */
export async function dropUnchanged(repository: Repository, bundle: Bundle): Promise<Bundle> {
  const entry: BundleEntry[] = [];
  for (const e of bundle.entry ?? []) {
    const url = e.request?.url ?? '';
    if (e.request?.method === 'PUT' && url.includes('?') && e.resource) {
      const found = await repository.search({ ...parseSearchRequest(url), count: 2 });
      if (found.resources.length === 1 && isDeepStrictEqual(content(found.resources[0]), content(e.resource))) continue;
    }
    entry.push(e);
  }
  return { ...bundle, entry };
}
