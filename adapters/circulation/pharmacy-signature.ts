import fs from 'node:fs';
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The pharmacy chain's signature, both ways: hex HMAC-SHA256 over `<appId>\n<timestamp>\n` followed by the exact body
 * bytes, sent as X-App-Id / X-Timestamp / X-Sign; a timestamp more than 5 minutes off is a replay.
 */
export function pharmacySign(key: string, appId: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', key).update(`${appId}\n${timestamp}\n`).update(body).digest('hex');
}

export function pharmacySignedHeaders(key: string, appId: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return { 'x-app-id': appId, 'x-timestamp': timestamp, 'x-sign': pharmacySign(key, appId, timestamp, body) };
}

const MAX_SKEW_SECONDS = 300;

/** Why a signed request does not verify against any of `keys` (the keys of the pharmacies with that appId), or undefined. */
export function pharmacySignatureProblem(keys: string[], headers: { appId?: string; timestamp?: string; sign?: string }, body: Buffer, now = Date.now()): string | undefined {
  if (!keys.length) return `unknown X-App-Id ${headers.appId || '(none)'}`;
  if (!/^\d+$/.test(headers.timestamp ?? '')) return 'X-Timestamp missing';
  if (Math.abs(now / 1000 - Number(headers.timestamp)) > MAX_SKEW_SECONDS) return 'X-Timestamp outside ±300 s (replay?)';
  const given = Buffer.from(headers.sign ?? '');
  const verifies = keys.some((key) => {
    const expected = Buffer.from(pharmacySign(key, headers.appId!, headers.timestamp!, body));
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return verifies ? undefined : 'X-Sign does not verify';
}

/** A pharmacy's key: from a file (mounted secret) or an environment variable, or given inline by TypeScript config (demo). */
export function pharmacyKey(source: { key?: string; keyFile?: string; keyEnv?: string }, what: string): string {
  const key = source.key ?? (source.keyFile ? fs.readFileSync(source.keyFile, 'utf8').trim() : source.keyEnv ? process.env[source.keyEnv] : undefined);
  if (!key) throw new Error(`${what}: no key (keyFile ${source.keyFile ?? '-'} / environment ${source.keyEnv ?? '-'} is empty or unset)`);
  return key;
}
