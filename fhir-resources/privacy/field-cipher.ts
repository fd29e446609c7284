import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Encryption of single field values (ID numbers, phones, address lines) with a key from configuration, and the keyed
 * digest the search index stores instead of them.
 *
 * - `aes-256-gcm`: AES-GCM, 96-bit nonce, 128-bit tag.
 * - `sm4`: SM4-CBC then HMAC-SM3 over nonce and ciphertext (encrypt-then-MAC): OpenSSL 3, and so node:crypto, offers
 *   SM4 in CBC/CTR/ECB but not GCM, and GB/T 36624 allows SM4 with a separate MAC.
 *
 * The two keys are derived from the configured master key with HKDF, so one secret is configured and the digest key
 * differs from the encryption key. Stored form: `enc1.<alg>.<base64url(nonce | ciphertext | tag)>`; a value not in
 * that form is returned as it is on decryption (rows written before encryption was turned on).
 */
export type CipherName = 'aes-256-gcm' | 'sm4';

const PREFIX = 'enc1.';
const DIGEST_PREFIX = 'h1.';

export class FieldCipher {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;
  private readonly digestKey: Buffer;

  constructor(masterKey: Buffer, readonly cipher: CipherName = 'aes-256-gcm') {
    if (masterKey.length < 32) throw new Error('the privacy key must be at least 32 bytes (base64 of 32 random bytes)');
    const derive = (info: string, length: number) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `lingshu/${info}`, length));
    this.encKey = derive(`${cipher}/enc`, cipher === 'sm4' ? 16 : 32);
    this.macKey = derive(`${cipher}/mac`, 32);
    this.digestKey = derive('index-digest', 32);
  }

  static isEncrypted(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  encrypt(plain: string): string {
    if (FieldCipher.isEncrypted(plain)) return plain;
    const data = Buffer.from(plain, 'utf8');
    if (this.cipher === 'aes-256-gcm') {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', this.encKey, iv);
      const body = Buffer.concat([c.update(data), c.final()]);
      return `${PREFIX}a.${Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url')}`;
    }
    const iv = randomBytes(16);
    const c = createCipheriv('sm4-cbc', this.encKey, iv);
    const body = Buffer.concat([iv, c.update(data), c.final()]);
    return `${PREFIX}s.${Buffer.concat([body, this.sm3Mac(body)]).toString('base64url')}`;
  }

  decrypt(stored: string): string {
    if (!FieldCipher.isEncrypted(stored)) return stored;
    const [, alg, payload] = stored.split('.');
    const raw = Buffer.from(payload ?? '', 'base64url');
    if (alg === 'a') {
      const d = createDecipheriv('aes-256-gcm', this.aesKeyFor(), raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
    }
    if (alg === 's') {
      const body = raw.subarray(0, raw.length - 32);
      if (!timingSafeEqual(this.sm3Mac(body), raw.subarray(raw.length - 32))) throw new Error('an encrypted field failed its integrity check');
      const d = createDecipheriv('sm4-cbc', this.sm4KeyFor(), body.subarray(0, 16));
      return Buffer.concat([d.update(body.subarray(16)), d.final()]).toString('utf8');
    }
    throw new Error(`unknown field encryption "${alg}"`);
  }

  /**
   * Keyed, deterministic: equal values give equal digests, so the index can match them without knowing them. Hex,
   * because the token index lower-cases ContactPoint values.
   */
  digest(value: string): string {
    const alg = this.cipher === 'sm4' ? 'sm3' : 'sha256';
    return DIGEST_PREFIX + createHmac(alg, this.digestKey).update(value, 'utf8').digest('hex');
  }

  private sm3Mac(data: Buffer): Buffer {
    return createHmac('sm3', this.macKey).update(data).digest();
  }

  // A row keeps the algorithm it was written with; reading it with the other configured is a configuration error.
  private aesKeyFor(): Buffer {
    if (this.cipher !== 'aes-256-gcm') throw new Error('a field was encrypted with AES-GCM but privacy.cipher is sm4');
    return this.encKey;
  }

  private sm4KeyFor(): Buffer {
    if (this.cipher !== 'sm4') throw new Error('a field was encrypted with SM4 but privacy.cipher is aes-256-gcm');
    return this.encKey;
  }
}
