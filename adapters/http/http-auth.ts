import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';

const secretSource = {
  /** For TypeScript channels that read it from configuration. */
  value: z.string().min(1).optional(),
  /** For YAML channels: no secret lives in the repository. */
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
};

export const httpAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), ...secretSource }).strict(),
  z.object({
    type: z.literal('hmac'),
    ...secretSource,
    /** Header carrying the signature, hex or base64 of HMAC-SHA256 over the raw body bytes. */
    header: z.string().default('x-signature'),
    encoding: z.enum(['hex', 'base64']).default('hex'),
    /** When set, the signed text is `<timestamp>\n<body>` and a timestamp further off than maxSkewSeconds is refused (replay). */
    timestampHeader: z.string().optional(),
    maxSkewSeconds: z.number().int().min(1).default(300),
  }).strict(),
]);

export type HttpAuth = z.infer<typeof httpAuthSchema>;

function secretOf(auth: { value?: string; env?: string }): string {
  const secret = auth.value ?? (auth.env ? process.env[auth.env] : undefined);
  if (!secret) throw new Error(auth.env ? `environment variable ${auth.env} (channel secret) is not set` : 'auth needs value or env');
  return secret;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Returns the reason a request is refused, or undefined when it may pass. Secrets are resolved at deploy (so a
 * missing variable fails the deploy, not the first request) and compared in constant time.
 */
export function authChecker(auth: HttpAuth): (headers: IncomingHttpHeaders, body: Buffer) => string | undefined {
  if (auth.type === 'none') return () => undefined;
  const secret = secretOf(auth);
  if (auth.type === 'bearer') {
    return (headers) => {
      const m = /^Bearer\s+(.+)$/i.exec(String(headers.authorization ?? ''));
      return m && sameText(m[1].trim(), secret) ? undefined : 'missing or wrong bearer token';
    };
  }
  return (headers, body) => {
    const given = headers[auth.header.toLowerCase()];
    if (typeof given !== 'string') return `missing ${auth.header} header`;
    let signed: Buffer = body;
    if (auth.timestampHeader) {
      const ts = headers[auth.timestampHeader.toLowerCase()];
      const seconds = Number(ts);
      if (typeof ts !== 'string' || !Number.isFinite(seconds)) return `missing ${auth.timestampHeader} header`;
      if (Math.abs(Date.now() / 1000 - seconds) > auth.maxSkewSeconds) return `${auth.timestampHeader} too far from now (replay?)`;
      signed = Buffer.concat([Buffer.from(`${ts}\n`), body]);
    }
    const expected = createHmac('sha256', secret).update(signed).digest(auth.encoding);
    return sameText(given.trim(), expected) ? undefined : `wrong ${auth.header} signature`;
  };
}
