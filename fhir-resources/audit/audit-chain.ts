import { createHash } from 'node:crypto';

/**
 * The hash chain over the audit log: record n carries H(hash of record n-1 ‖ canonical content of n). Editing a
 * record changes its hash; deleting one breaks the sequence and the next record's link. H is SHA-256, or SM3 where
 * the hospital's 密评 asks for national algorithms (both from node:crypto / OpenSSL 3).
 */
export type ChainHash = 'sha256' | 'sm3';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * JSON with object keys sorted at every level, so equal content always hashes alike: the text JSON.stringify gives
 * for a copy with sorted keys, written directly (every read is audited, and the sorted copies were a fifth of an
 * audit record's CPU).
 */
export function canonicalJson(value: unknown): string {
  return write(value) ?? 'null';
}

/** undefined where JSON.stringify leaves the value out (undefined, functions, symbols). */
function write(value: unknown): string | undefined {
  // Objects are taken by their own keys, never by toJSON: the records are parsed JSON or built from plain data.
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i ? ',' : ''}${write(value[i]) ?? 'null'}`;
    return `${out}]`;
  }
  let out = '';
  for (const key of sortedKeys(value)) {
    const text = write((value as Record<string, unknown>)[key]);
    if (text !== undefined) out += `${out ? ',' : ''}${quotedKey(key)}:${text}`;
  }
  return `{${out}}`;
}

const quoted = new Map<string, string>();

/** Records share a few dozen key names: each is quoted once. */
function quotedKey(key: string): string {
  let q = quoted.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (quoted.size < 10_000) quoted.set(key, q);
  }
  return q;
}

const INDEX_KEY = /^(?:0|[1-9]\d{0,9})$/;

function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57 && INDEX_KEY.test(key) && Number(key) < 4294967295;
}

/**
 * Keys sorted, in the order an object built by inserting them sorted would list them: JavaScript lists array-index
 * keys ("2", "10") first, in numeric order. Records chained before this serializer were hashed in that order.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value).sort();
  if (!keys.some(isIndexKey)) return keys;
  const index = keys.filter(isIndexKey).sort((a, b) => Number(a) - Number(b));
  return [...index, ...keys.filter((k) => !index.includes(k))];
}

export function chainHash(algorithm: ChainHash, previous: string, content: string): string {
  return createHash(algorithm).update(previous, 'utf8').update('\n').update(content, 'utf8').digest('hex');
}
