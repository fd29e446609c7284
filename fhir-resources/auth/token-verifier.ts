import fs from 'node:fs';
import {
  createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type KeyLike,
} from 'jose';
import { defaultScopes, FUNCTIONS, idOf, parseScopes, ROLES, type Principal, type Role } from './principal';

/**
 * Bearer tokens (JWT) from the configured issuers: the hospital's identity provider (OIDC, keys from its JWKS URL or
 * a local JWKS / PEM file) and, in the demo profile, the built-in demo issuer. Signature, issuer, audience, expiry
 * and not-before are checked by jose; the claims then give the principal.
 *
 * Claims read: `sub`; `role` (or the first Lingshu role in `roles`); `roles` may also hold functions (`auditor`);
 * `scope` (SMART scopes; the role's defaults when absent); `fhirUser` (`Patient/…`, `Practitioner/…`); `patient`
 * (SMART launch context, the patient id). SM2-signed tokens are not verified here: jose has no SM2; a hospital IdP
 * that signs with SM2 needs a verifier added beside this one.
 */
export interface TrustedIssuer {
  issuer: string;
  keys: JWTVerifyGetKey | KeyLike;
}

export class TokenRefused extends Error {
  constructor(readonly reason: 'missing' | 'expired' | 'signature' | 'audience' | 'issuer' | 'malformed' | 'claims', message: string) {
    super(message);
  }
}

export interface IssuerConfig {
  issuer: string;
  jwksUrl?: string;
  /** A JWKS JSON file, or a PEM public key (then `algorithm` says which). */
  jwksFile?: string;
  algorithm?: string;
}

export async function trustedIssuer(config: IssuerConfig): Promise<TrustedIssuer> {
  if (config.jwksUrl) return { issuer: config.issuer, keys: createRemoteJWKSet(new URL(config.jwksUrl)) };
  if (!config.jwksFile) throw new Error(`issuer ${config.issuer}: set auth.jwksUrl or auth.jwksFile`);
  const text = fs.readFileSync(config.jwksFile, 'utf8');
  if (text.includes('-----BEGIN')) return { issuer: config.issuer, keys: await importSPKI(text, config.algorithm ?? 'RS256') };
  return { issuer: config.issuer, keys: createLocalJWKSet(JSON.parse(text)) };
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
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new TokenRefused('malformed', 'The bearer token is not a JWT');
    }
    const trusted = this.issuers.find((i) => i.issuer === iss);
    if (!trusted) throw new TokenRefused('issuer', 'The token was not issued by a trusted identity provider');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, trusted.keys as KeyLike, {
        issuer: trusted.issuer, audience: this.audience, clockTolerance: this.clockToleranceSeconds, requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw refusalOf(err);
    }
    return principalOf(payload);
  }
}

function refusalOf(err: unknown): TokenRefused {
  if (err instanceof errors.JWTExpired) return new TokenRefused('expired', 'The token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new TokenRefused('audience', 'The token is not meant for this server (audience)');
    if (err.claim === 'iss') return new TokenRefused('issuer', 'The token was not issued by a trusted identity provider');
    return new TokenRefused('claims', `The token's "${err.claim}" claim is not acceptable`);
  }
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
  if (role === 'patient' && !patientId) throw new TokenRefused('claims', 'A patient token must name the patient (fhirUser or patient claim)');
  const practitionerId = role === 'doctor' ? idOf(fhirUser, 'Practitioner') : undefined;
  return {
    subject: sub,
    role,
    functions: roles.filter((r) => (FUNCTIONS as readonly string[]).includes(r)),
    scopes: parseScopes(typeof claims.scope === 'string' ? claims.scope : defaultScopes(role)),
    patientId,
    practitionerId,
    reference: fhirUser ?? sub,
  };
}
