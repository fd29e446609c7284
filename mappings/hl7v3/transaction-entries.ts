import { createHash } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Transmission } from './transmission-wrapper';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * Transaction entries that make a message idempotent: every resource is written with a conditional update (or a
 * conditional create for a resource the message only mentions) keyed on its business identifier, so the same
 * message processed twice finds what the first run wrote and changes nothing.
 */

/** A token search value `system|value` for a conditional URL; FHIR escapes `,` `|` `$` `\` in the value (R4 §3.1.1.5.7). */
export function identifierToken(system: string, value: string): string {
  const escaped = value.replace(/[\\,|$]/g, (c) => `\\${c}`);
  return `${system}|${encodeURIComponent(escaped).replace(/%3A/gi, ':').replace(/%7C/gi, '|')}`;
}

/**
 * A urn:uuid fullUrl derived from the entry's conditional URL (a name-based UUID, RFC 4122 §4.3 with SHA-1):
 * the same message maps to byte-identical Bundles, which golden tests and message reprocessing both rely on.
 */
export function entryFullUrl(seed: string): string {
  const h = createHash('sha1').update(seed).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function conditionalUpdate(resource: Resource, search: string): BundleEntry {
  const url = `${resource.resourceType}?${search}`;
  return { fullUrl: entryFullUrl(url), resource, request: { method: 'PUT', url } };
}

/**
 * Creates the resource only when none matches `search`. Used for what a message refers to but does not own (the
 * patient of a 挂号, the schedule of its slots): creates run before updates, so every other entry can point at its
 * urn:uuid (a conditional update's urn:uuid resolves only for the updates after it), and a record the registry
 * already holds must not be overwritten with the little a 挂号 message carries.
 */
export function conditionalCreate(resource: Resource, search: string): BundleEntry {
  return {
    fullUrl: entryFullUrl(`${resource.resourceType}?${search}`),
    resource,
    request: { method: 'POST', url: resource.resourceType, ifNoneExist: search },
  };
}

export function transactionBundle(transmission: Transmission, entries: BundleEntry[], type: 'transaction' | 'batch' = 'transaction'): Bundle {
  return {
    resourceType: 'Bundle',
    type,
    // The v3 message id travels with the Bundle, so a FHIR write can be traced back to the message that caused it.
    identifier: { system: oidSystem(V3_OID.messageId), value: transmission.messageId },
    ...(transmission.creationTime ? { timestamp: transmission.creationTime } : {}),
    entry: entries,
  };
}
