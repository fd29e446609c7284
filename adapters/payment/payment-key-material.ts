import crypto, { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';

/**
 * Where a secret (a PEM key, the APIv3 key) comes from. Keys never live in the repository or in channel files:
 * `file` is a path outside it (e.g. /etc/lingshu/keys/wechatpay-merchant.pem), `env` names a variable holding the
 * value. `value` is for TypeScript wiring that already holds the key in memory (the demo hands over the simulators'
 * generated keys); a configuration file should use the other two.
 */
export const secretSourceSchema = z.union([
  z.object({ file: z.string().min(1) }).strict(),
  z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ value: z.string().min(1) }).strict(),
]);

export type SecretSource = z.infer<typeof secretSourceSchema>;

/** The secret's text; `what` names it in the error, which never contains the secret itself. */
export function readSecret(source: SecretSource, what: string): string {
  if ('value' in source) return source.value;
  if ('env' in source) {
    const v = process.env[source.env];
    if (!v) throw new Error(`${what}: environment variable ${source.env} is not set`);
    return v;
  }
  try {
    return fs.readFileSync(source.file, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${source.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Alipay's key tool and many merchant consoles hand out bare Base64 without PEM armour; WeChat hands out PEM.
 * Bare private keys are tried as PKCS#8 (what Alipay's tool writes) and then PKCS#1.
 */
function armoured(text: string, kinds: string[]): string[] {
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) return [t];
  const body = t.replace(/\s+/g, '').replace(/(.{64})/g, '$1\n').trim();
  return kinds.map((k) => `-----BEGIN ${k}-----\n${body}\n-----END ${k}-----\n`);
}

export function privateKeyOf(text: string, what: string): KeyObject {
  for (const pem of armoured(text, ['PRIVATE KEY', 'RSA PRIVATE KEY'])) {
    try {
      return crypto.createPrivateKey(pem);
    } catch {
      // try the next armour
    }
  }
  throw new Error(`${what}: not an RSA private key (PEM or Base64 PKCS#8/PKCS#1)`);
}

/** A public key, or the public key of an X.509 certificate (WeChat's 平台证书). */
export function publicKeyOf(text: string, what: string): KeyObject {
  for (const pem of armoured(text, ['PUBLIC KEY'])) {
    try {
      return crypto.createPublicKey(pem);
    } catch {
      // not usable; reported below
    }
  }
  throw new Error(`${what}: not an RSA public key or certificate (PEM or Base64 SPKI)`);
}
