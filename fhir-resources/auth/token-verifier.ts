import fs from 'node:fs';
import {
  compactVerify, createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, importSPKI, type JWTPayload, type JWTVerifyGetKey,
  type KeyLike,
} from 'jose';
import { defaultScopes, FUNCTIONS, idOf, parseScopes, ROLES, type Principal, type Role, type WechatAccount } from './principal';
import { DEFAULT_SM2_USER_ID, isSm2Algorithm, sm2KeysOf, verifySm2Jws, type Sm2Keys } from './sm2-jws';
import { checkClaims, claimsOf, TokenRefused } from './token-claims';
import { wechatAccountOf, WechatAccountError } from './wechat-account';

export { TokenRefused } from './token-claims';

/**
 * Bearer tokens (JWT) from the configured issuers: the hospital's identity provider (OIDC, keys from its JWKS URL or
 * a local JWKS / PEM file) and, in the demo profile, the built-in demo issuer. The signature is checked by jose
 * (RS256, ES256, …) or, for an issuer that signs with SM2 (`alg` SM2 or SM3withSM2), by sm2-jws.ts; issuer,
 * audience, expiry and not-before then by token-claims.ts, the same for both; the claims then give the principal.
 *
 * Claims read: `sub`; `role` (or the first Lingshu role in `roles`); `roles` may also hold functions (`auditor`);
 * `scope` (SMART scopes; the role's defaults when absent); `fhirUser` (`Patient/…`, `Practitioner/…`); `patient`
 * (SMART launch context, the patient id); for a patient signed in through the mini program, `openid`, `appid` and
 * `unionid` (WeChat), which name the account bound to a Patient by `$bind-wechat`.
 */
export interface TrustedIssuer {
  issuer: string;
  /** Keys jose verifies with; absent for an issuer that signs only with SM2. */
  keys?: JWTVerifyGetKey | KeyLike;
  /** SM2 public keys, for tokens whose `alg` is SM2 / SM3withSM2. */
  sm2?: Sm2Keys;
}

export interface IssuerConfig {
  issuer: string;
  jwksUrl?: string;
  /** A JWKS JSON file, or a PEM public key (then `algorithm` says which), or for SM2 also a hex point. */
  jwksFile?: string;
  /** The PEM key's algorithm (RS256 by default); `SM2` / `SM3withSM2` when the issuer signs with SM2. */
  algorithm?: string;
  /** SM2 signer id (Z computation), `1234567812345678` by default. */
  sm2UserId?: string;
}

export async function trustedIssuer(config: IssuerConfig): Promise<TrustedIssuer> {
  const userId = config.sm2UserId || DEFAULT_SM2_USER_ID;
  if (isSm2Algorithm(config.algorithm)) {
    if (!config.jwksFile) throw new Error(`issuer ${config.issuer}: an SM2 issuer needs auth.jwksFile (its public key: hex, PEM or JWKS); a JWKS URL is not fetched for SM2`);
    const keys = sm2KeysOf(fs.readFileSync(config.jwksFile, 'utf8'));
    if (!keys.length) throw new Error(`issuer ${config.issuer}: ${config.jwksFile} holds no SM2 public key`);
    return { issuer: config.issuer, sm2: { keys, userId } };
  }
  if (config.jwksUrl) return { issuer: config.issuer, keys: createRemoteJWKSet(new URL(config.jwksUrl)) };
  if (!config.jwksFile) throw new Error(`issuer ${config.issuer}: set auth.jwksUrl or auth.jwksFile`);
  const text = fs.readFileSync(config.jwksFile, 'utf8');
  if (text.includes('-----BEGIN')) return { issuer: config.issuer, keys: await importSPKI(text, config.algorithm ?? 'RS256') };
  const keys = createLocalJWKSet(JSON.parse(text));
  // A JWKS may list SM2 keys beside RSA/EC ones: each token's `alg` picks the path.
  const sm2 = sm2KeysOf(text);
  return { issuer: config.issuer, keys, ...(sm2.length ? { sm2: { keys: sm2, userId } } : {}) };
}

/** How long a verified token is trusted without checking its signature again (bounds a key revocation's delay). */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

export class TokenVerifier {
  /**
   * Tokens already verified, by their exact text: a client sends the same token with every call, and an RSA/ECDSA
   * verification was ~7% of a read's CPU. An entry is used only before the token's own expiry (with the same clock
   * tolerance as jose) and for at most VERIFIED_TTL_MS, so an expired token or a removed key is refused as before.
   */
  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly issuers: TrustedIssuer[],
    private readonly audience: string,
    private readonly clockToleranceSeconds = 30,
  ) {}

  async verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new TokenRefused('missing', 'A bearer token is required');
    const known = this.verified.get(token);
    if (known && Date.now() < known.until) return known.principal;
    if (known) this.verified.delete(token);
    const principal = await this.verifySignature(token);
    const exp = decodeJwt(token).exp;
    if (typeof exp === 'number') {
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(token, { principal, until: Math.min(Date.now() + VERIFIED_TTL_MS, (exp + this.clockToleranceSeconds) * 1000) });
    }
    return principal;
  }

  private async verifySignature(token: string): Promise<Principal> {
    let iss: string | undefined;
    let alg: unknown;
    try {
      iss = decodeJwt(token).iss;
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenRefused('malformed', 'The bearer token is not a JWT');
    }
    const trusted = this.issuers.find((i) => i.issuer === iss);
    if (!trusted) throw new TokenRefused('issuer', 'The token was not issued by a trusted identity provider');
    const payload = isSm2Algorithm(alg) ? this.sm2Payload(token, trusted) : await this.josePayload(token, trusted);
    return principalOf(checkClaims(claimsOf(payload), {
      issuer: trusted.issuer, audience: this.audience, clockToleranceSeconds: this.clockToleranceSeconds, required: ['sub', 'exp'],
    }));
  }

  private sm2Payload(token: string, trusted: TrustedIssuer): Uint8Array {
    if (!trusted.sm2) throw new TokenRefused('signature', 'The token signature does not verify (the identity provider has no SM2 key here)');
    return verifySm2Jws(token, trusted.sm2);
  }

  private async josePayload(token: string, trusted: TrustedIssuer): Promise<Uint8Array> {
    if (!trusted.keys) throw new TokenRefused('signature', 'The token signature does not verify (the identity provider signs with SM2)');
    try {
      return (await compactVerify(token, trusted.keys as KeyLike)).payload;
    } catch (err) {
      throw refusalOf(err);
    }
  }
}

function refusalOf(err: unknown): TokenRefused {
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new TokenRefused('signature', 'The token signature does not verify');
  }
  return new TokenRefused('malformed', 'The token cannot be verified');
}

export function principalOf(claims: JWTPayload): Principal {
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  const role = [claims.role, ...roles].find((r): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r));
  if (!role) throw new TokenRefused('claims', `The token names no Lingshu role (${ROLES.join(', ')})`);
  const sub = String(claims.sub);
  const fhirUser = typeof claims.fhirUser === 'string' ? claims.fhirUser : /^[A-Z][A-Za-z]+\//.test(sub) ? sub : undefined;
  const patientId = role === 'patient' ? (typeof claims.patient === 'string' ? claims.patient : idOf(fhirUser, 'Patient')) : undefined;
  const wechat = role === 'patient' ? wechatOf(claims) : undefined;
  // A mini-program sign-in names a WeChat account, not a Patient: the account sees nothing until it is bound to one.
  if (role === 'patient' && !patientId && !wechat) throw new TokenRefused('claims', 'A patient token must name the patient (fhirUser or patient claim) or a WeChat account (openid and appid)');
  const practitionerId = role === 'doctor' ? idOf(fhirUser, 'Practitioner') : undefined;
  return {
    subject: sub,
    role,
    functions: roles.filter((r) => (FUNCTIONS as readonly string[]).includes(r)),
    scopes: parseScopes(typeof claims.scope === 'string' ? claims.scope : defaultScopes(role)),
    patientId,
    practitionerId,
    reference: fhirUser ?? sub,
    ...(wechat ? { wechat } : {}),
  };
}

function wechatOf(claims: JWTPayload): WechatAccount | undefined {
  try {
    return wechatAccountOf({ openid: claims.openid, appid: claims.appid, unionid: claims.unionid });
  } catch (err) {
    if (err instanceof WechatAccountError) throw new TokenRefused('claims', `The token's WeChat account is not acceptable: ${err.message}`);
    throw err;
  }
}
