import crypto, { KeyObject } from 'node:crypto';

/**
 * The RSA2 string to sign: every parameter but the excluded ones and the empty ones, sorted by key in ASCII order,
 * joined as `k=v&…` with the values as they are (not URL-encoded). Requests exclude `sign`; notifications also
 * `sign_type` (formats.md 2.2).
 */
export function signContent(params: Record<string, string | undefined>, exclude: string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(privateKey: KeyObject, content: string): string {
  return crypto.sign('sha256', Buffer.from(content, 'utf8'), privateKey).toString('base64');
}

export function rsa2Verify(publicKey: KeyObject, content: string, signature: string): boolean {
  return crypto.verify('sha256', Buffer.from(content, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
}

/**
 * An OpenAPI answer: `{"<method>_response":{…},"sign":"…"}` where the signature covers the exact characters of the
 * inner object, so the body is assembled as text rather than serialised as one object. `forged` signs other bytes.
 */
export function signedAnswer(privateKey: KeyObject | undefined, key: string, inner: object, forged = false): string {
  const json = JSON.stringify(inner);
  if (!privateKey) return `{"${key}":${json}}`;
  return `{"${key}":${json},"sign":"${rsa2Sign(privateKey, forged ? `${json} ` : json)}"}`;
}
