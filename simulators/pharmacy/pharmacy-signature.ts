import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How the pharmacy chain and the hospital sign to each other, both ways: hex HMAC-SHA256 over
 * `<appId>\n<timestamp>\n` and the exact body bytes, in X-App-Id / X-Timestamp / X-Sign. Chain pharmacies' open
 * platforms mostly sign this way (or with MD5 over sorted params, which no new integration should accept).
 */
export function pharmacySign(secret: string, appId: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${appId}\n${timestamp}\n`).update(body).digest('hex');
}

export function pharmacyHeaders(secret: string, appId: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return { 'x-app-id': appId, 'x-timestamp': timestamp, 'x-sign': pharmacySign(secret, appId, timestamp, body) };
}

export function signatureProblem(secret: string | undefined, headers: { appId?: string; timestamp?: string; sign?: string }, body: Buffer, now = Date.now()): string | undefined {
  if (!secret) return `unknown appId ${headers.appId || '(none)'}`;
  if (!/^\d+$/.test(headers.timestamp ?? '') || Math.abs(now / 1000 - Number(headers.timestamp)) > 300) return 'X-Timestamp missing or outside ±300 s';
  const expected = Buffer.from(pharmacySign(secret, headers.appId!, headers.timestamp!, body));
  const given = Buffer.from(headers.sign ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'signature does not verify';
}
