import type { Bundle, BundleEntry, Identifier, Resource } from '@medplum/fhirtypes';

/**
 * Builds the FHIR transaction a message becomes. Every entry is conditional on a business identifier, so the same
 * message processed twice finds what the first run wrote instead of adding to it (HL7 senders resend after a lost
 * ACK, and the engine reprocesses): `PUT Type?identifier=…` where the message is the source of truth for the resource,
 * `POST` with `ifNoneExist` where it only needs the resource to exist (a Patient named by a LIS result).
 *
 * fullUrls are `urn:uuid:` values derived from the message control id and the identifier, so the output is the same
 * on every run (golden tests, reprocessing) and unique across the messages of a batch.
 */
export class TransactionBundle {
  private readonly entries: BundleEntry[] = [];
  private readonly byKey = new Map<string, string>();

  constructor(private readonly seed: string) {}

  /** Conditional update: create or replace the resource found by `key`. Returns its fullUrl for references. */
  put(resource: Resource, key: Identifier): string {
    const query = conditionalQuery(resource.resourceType, key);
    return this.add(resource, query, { method: 'PUT', url: query });
  }

  /** Conditional create: create only when no resource matches `key`. */
  createIfAbsent(resource: Resource, key: Identifier): string {
    const query = conditionalQuery(resource.resourceType, key);
    return this.add(resource, query, { method: 'POST', url: resource.resourceType, ifNoneExist: query.slice(resource.resourceType.length + 1) });
  }

  fullUrlOf(resourceType: string, key: Identifier): string | undefined {
    return this.byKey.get(conditionalQuery(resourceType, key));
  }

  build(): Bundle {
    return { resourceType: 'Bundle', type: 'transaction', entry: this.entries };
  }

  private add(resource: Resource, query: string, request: BundleEntry['request']): string {
    const existing = this.byKey.get(query);
    // Two entries with one conditional URL would make the transaction fail; the later one is the fuller reading.
    if (existing) {
      const i = this.entries.findIndex((e) => e.fullUrl === existing);
      this.entries[i] = { fullUrl: existing, resource, request };
      return existing;
    }
    const fullUrl = `urn:uuid:${nameBasedUuid(`${this.seed}\u0000${query}`)}`;
    this.byKey.set(query, fullUrl);
    this.entries.push({ fullUrl, resource, request });
    return fullUrl;
  }
}

/** `Patient?identifier=system|value`, with the FHIR search escapes (\, \| \$ \\) and URL escapes a value may need. */
export function conditionalQuery(resourceType: string, key: Identifier): string {
  return `${resourceType}?identifier=${searchToken(key.system ?? '')}|${searchToken(key.value ?? '')}`;
}

function searchToken(s: string): string {
  return s.replace(/[\\|,$]/g, '\\$&').replace(/[%&#+=\s?]/g, (c) => encodeURIComponent(c));
}

/**
 * A version-8 style UUID from four FNV-1a 32-bit hashes of the name with different offset bases: deterministic,
 * well spread, and computed here because a mapping takes no dependency beyond the FHIR types and profiles.
 */
function nameBasedUuid(name: string): string {
  const lanes = [0x811c9dc5, 0x050c5d1f, 0x2f6b8a3d, 0x6a09e667];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    for (let l = 0; l < 4; l++) lanes[l] = Math.imul(lanes[l] ^ c, 0x01000193);
  }
  // Mix each lane with its neighbour so that lanes differing only in their basis do not stay correlated.
  const words = lanes.map((h, l) => (Math.imul(h ^ (lanes[(l + 1) % 4] >>> 15), 0x2c1b3c6d) >>> 0).toString(16).padStart(8, '0'));
  const s = words.join('').split('');
  s[12] = '8';
  s[16] = ((parseInt(s[16], 16) & 0x3) | 0x8).toString(16);
  const hex = s.join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
