import { sm2 } from 'sm-crypto-v2';
import { TokenRefused } from './token-claims';

/**
 * Compact JWS signed with SM2 (GB/T 32918, signature over the SM3 digest of Z‖M, GM/T 0009), which jose does not
 * implement. No RFC registers an SM2 `alg`; Chinese identity providers write `SM2` or `SM3withSM2` (the name the
 * Java/BouncyCastle signer uses), and both are accepted here. The signature bytes are r‖s (64 bytes, the JWS
 * convention of ES256) or the ASN.1 DER SEQUENCE { r, s } that GM/T 0009 and Java signers produce; its shape tells
 * which. The signer's user id (the `ID_A` in Z) is `1234567812345678` unless the issuer says otherwise.
 */
export const SM2_ALGORITHMS: readonly string[] = ['SM2', 'SM3withSM2'];
export const DEFAULT_SM2_USER_ID = '1234567812345678';

export interface Sm2PublicKey {
  kid?: string;
  /** Uncompressed point, `04‖x‖y` in hex. */
  hex: string;
}

export interface Sm2Keys {
  keys: Sm2PublicKey[];
  userId: string;
}

export function isSm2Algorithm(alg: unknown): boolean {
  return typeof alg === 'string' && SM2_ALGORITHMS.includes(alg);
}

/** OID 1.2.156.10197.1.301 (sm2 curve, GM/T 0006) as DER: what marks an SPKI as an SM2 key. */
const SM2_CURVE_OID = Buffer.from('06082a811ccf5501822d', 'hex');
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function checkedPoint(hex: string, where: string): string {
  const lower = hex.toLowerCase();
  const point = /^[0-9a-f]{128}$/.test(lower) ? `04${lower}` : lower;
  if (!/^04[0-9a-f]{128}$/.test(point) && !/^0[23][0-9a-f]{64}$/.test(point)) throw new Error(`${where}: not an SM2 public key (hex point expected)`);
  if (!sm2.verifyPublicKey(point)) throw new Error(`${where}: the SM2 public key is not a point on the curve`);
  return point;
}

/** SubjectPublicKeyInfo of an SM2 key: the BIT STRING at its end holds the uncompressed point. */
function pointOfSpki(pem: string): string {
  const der = Buffer.from(pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, ''), 'base64');
  const tail = der.subarray(der.length - 68);
  if (!der.includes(SM2_CURVE_OID) || tail.length !== 68 || tail.readUInt32BE(0) !== 0x03420004) {
    throw new Error('PEM public key: not an SM2 SubjectPublicKeyInfo (curve 1.2.156.10197.1.301)');
  }
  return tail.subarray(3).toString('hex');
}

/**
 * The SM2 public keys in a key file: a hex point, a PEM `PUBLIC KEY`, or a JWKS whose SM2 entries are
 * `{kty: "EC", crv: "SM2", x, y}` (base64url coordinates, as the IdPs that publish SM2 in a JWKS write them).
 */
export function sm2KeysOf(text: string): Sm2PublicKey[] {
  const trimmed = text.trim();
  if (trimmed.includes('-----BEGIN PUBLIC KEY-----')) return [{ hex: checkedPoint(pointOfSpki(trimmed), 'PEM public key') }];
  if (trimmed.startsWith('{')) {
    const jwks = JSON.parse(trimmed) as { keys?: Array<Record<string, unknown>> };
    return (jwks.keys ?? []).filter((k) => k.kty === 'EC' && k.crv === 'SM2' && typeof k.x === 'string' && typeof k.y === 'string').map((k) => ({
      ...(typeof k.kid === 'string' ? { kid: k.kid } : {}),
      hex: checkedPoint(`04${Buffer.from(k.x as string, 'base64url').toString('hex')}${Buffer.from(k.y as string, 'base64url').toString('hex')}`, `JWKS key ${String(k.kid ?? '')}`),
    }));
  }
  return [{ hex: checkedPoint(trimmed, 'SM2 public key') }];
}

function part(text: string, what: string): Buffer {
  if (!BASE64URL.test(text)) throw new TokenRefused('malformed', `The token ${what} is not base64url`);
  return Buffer.from(text, 'base64url');
}

/**
 * Which encodings the signature bytes may be: r‖s when 64 bytes, DER SEQUENCE { INTEGER r, INTEGER s } when they
 * start like one (a DER of short r and s can be 64 bytes too, so both are tried then).
 */
function encodingsOf(signature: Buffer): boolean[] {
  const der = signature[0] === 0x30 && signature[1] === signature.length - 2;
  return [...(signature.length === 64 ? [false] : []), ...(der ? [true] : [])];
}

function verifies(input: Uint8Array, signature: Buffer, key: Sm2PublicKey, userId: string): boolean {
  return encodingsOf(signature).some((der) => {
    try {
      return sm2.doVerifySignature(input, signature.toString('hex'), key.hex, { hash: true, der, userId });
    } catch {
      // A signature that does not decode (bad DER, r or s out of range) does not verify.
      return false;
    }
  });
}

/** Verifies an SM2-signed compact JWS and returns its payload bytes; the claims are checked by the caller. */
export function verifySm2Jws(token: string, keys: Sm2Keys): Uint8Array {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenRefused('malformed', 'The bearer token is not a compact JWS');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(part(parts[0], 'header').toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TokenRefused) throw err;
    throw new TokenRefused('malformed', 'The token header is not JSON');
  }
  if (!isSm2Algorithm(header.alg)) throw new TokenRefused('malformed', 'The token is not SM2-signed');
  // RFC 7515 §4.1.11: a header extension the verifier does not understand must make it refuse (b64=false among them).
  if (header.crit !== undefined || header.b64 !== undefined) throw new TokenRefused('malformed', 'The token uses JWS header extensions this server does not support');
  const payload = part(parts[1], 'payload');
  const signature = part(parts[2], 'signature');
  const candidates = typeof header.kid === 'string' && keys.keys.some((k) => k.kid) ? keys.keys.filter((k) => k.kid === header.kid) : keys.keys;
  const input = new Uint8Array(Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'));
  if (!candidates.some((k) => verifies(input, signature, k, keys.userId))) throw new TokenRefused('signature', 'The token signature does not verify');
  return new Uint8Array(payload);
}
