import { isDeepStrictEqual } from 'node:util';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { DestinationConnector, DestinationResponse, OutboundMessage } from '../../engine/channel/channel';
import type { Repository } from '../../fhir-resources/store/repository';
import { fhirTransaction } from './fhir-transaction-destination';

/** The resource as content: without the id and meta the store assigns. */
function content(resource: Resource): unknown {
  const { id: _id, meta: _meta, ...rest } = JSON.parse(JSON.stringify(resource)) as Resource;
  return rest;
}

/**
 * The entries of a Bundle that would change something: a conditional update (`PUT Type?search`) whose one match
 * already holds the same content is dropped. For sources re-sent in full (a nightly dictionary sync), so that an
 * unchanged row adds no version, no history entry and no change event.
 */
export async function changedEntries(repository: Repository, bundle: Bundle): Promise<{ entries: BundleEntry[]; unchanged: string[] }> {
  const entries: BundleEntry[] = [];
  const unchanged: string[] = [];
  for (const entry of bundle.entry ?? []) {
    const url = entry.request?.url ?? '';
    if (entry.request?.method === 'PUT' && url.includes('?') && entry.resource) {
      const found = await repository.search({ ...parseSearchRequest(url), count: 2 });
      const [match] = found.resources;
      if (found.resources.length === 1 && isDeepStrictEqual(content(match), content(entry.resource))) {
        unchanged.push(`${match.resourceType}/${match.id}`);
        continue;
      }
    }
    entries.push(entry);
  }
  return { entries, unchanged };
}

/**
 * fhirTransaction for full re-sends: unchanged entries are left out, and a Bundle with nothing left is not written
 * at all. The entries may not refer to each other by urn:uuid (a dropped entry's fullUrl would no longer resolve).
 */
export function fhirTransactionOfChanges(repository: () => Repository): DestinationConnector {
  const write = fhirTransaction(repository);
  return {
    type: 'fhir-transaction-of-changes',
    async send(message: OutboundMessage): Promise<DestinationResponse> {
      let bundle: Bundle;
      try {
        bundle = JSON.parse(message.content) as Bundle;
      } catch {
        throw new Error('the transformed message is not JSON: expected a FHIR Bundle');
      }
      if (bundle?.resourceType !== 'Bundle') return write.send(message);
      const { entries, unchanged } = await changedEntries(repository(), bundle);
      const same = unchanged.map((ref) => `unchanged ${ref}`);
      if (!entries.length) return { response: same.join('\n') };
      const written = await write.send({ ...message, content: JSON.stringify({ ...bundle, entry: entries }) });
      return { response: [written.response, ...same].filter(Boolean).join('\n') };
    },
  };
}
