import type { JWTPayload } from 'jose';

/**
 * The claim checks every bearer token passes once its signature verified, whichever algorithm signed it (jose's
 * RS256/ES256 path and the SM2 path): issuer, audience, expiry and not-before with the configured clock tolerance,
 * and the claims Lingshu needs. Kept in one function so the two signature paths cannot drift apart; the semantics
 * are jose's (RFC 7519 §4.1: `exp` is the first instant the token is no longer valid).
 */
export type RefusalReason = 'missing' | 'expired' | 'signature' | 'audience' | 'issuer' | 'malformed' | 'claims';

export class TokenRefused extends Error {
  constructor(readonly reason: RefusalReason, message: string) {
    super(message);
  }
}

export interface ClaimExpectations {
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  required: readonly string[];
  /** Seconds since the epoch; the current time when absent. */
  now?: number;
}

/** The JWS payload as a claims object, or a refusal when it is not a JSON object. */
export function claimsOf(payload: Uint8Array): JWTPayload {
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new TokenRefused('malformed', 'The token payload is not JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new TokenRefused('malformed', 'The token payload is not a JSON object');
  return claims as JWTPayload;
}

const notAcceptable = (claim: string) => new TokenRefused('claims', `The token's "${claim}" claim is not acceptable`);

export function checkClaims(claims: JWTPayload, expect: ClaimExpectations): JWTPayload {
  const now = expect.now ?? Math.floor(Date.now() / 1000);
  const tolerance = expect.clockToleranceSeconds;
  for (const claim of expect.required) {
    if (claims[claim] === undefined) throw notAcceptable(claim);
  }
  if (claims.iss !== expect.issuer) throw new TokenRefused('issuer', 'The token was not issued by a trusted identity provider');
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (!audiences.includes(expect.audience)) throw new TokenRefused('audience', 'The token is not meant for this server (audience)');
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    if (claims[claim] !== undefined && typeof claims[claim] !== 'number') throw notAcceptable(claim);
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) throw notAcceptable('nbf');
  if (typeof claims.exp === 'number' && claims.exp <= now - tolerance) throw new TokenRefused('expired', 'The token has expired');
  return claims;
}
