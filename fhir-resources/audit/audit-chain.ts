import { createHash } from 'node:crypto';

/**
 * The hash chain over the audit log: record n carries H(hash of record n-1 ‖ canonical content of n). Editing a
 * record changes its hash; deleting one breaks the sequence and the next record's link. H is SHA-256, or SM3 where
 * the hospital's 密评 asks for national algorithms (both from node:crypto / OpenSSL 3).
 */
export type ChainHash = 'sha256' | 'sm3';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, so equal content always hashes alike. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as object).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

export function chainHash(algorithm: ChainHash, previous: string, content: string): string {
  return createHash(algorithm).update(previous, 'utf8').update('\n').update(content, 'utf8').digest('hex');
}
