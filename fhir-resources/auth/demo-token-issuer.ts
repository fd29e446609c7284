import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { FUNCTIONS, idOf, ROLES, type Role, type WechatAccount } from './principal';
import type { TrustedIssuer } from './token-verifier';
import { wechatAccountOf, WechatAccountError } from './wechat-account';

/**
 * The demo profile's identity provider: `POST /auth/demo/token {role, subject}` (or, for a mini-program patient,
 * `{role: "patient", openid, appid, unionid}`) signs a short-lived ES256 token with a key made at start-up (never
 * stored), so a restart invalidates every demo token. It exists only when the profile is demo; production trusts
 * the hospital's issuer alone.
 */
export const DEMO_ISSUER = 'urn:lingshu:demo-issuer';

export interface DemoTokenRequest {
  role: unknown;
  subject?: unknown;
  /** Further functions, e.g. `["auditor"]`. */
  functions?: unknown;
  /** A patient signed in through the mini program: the WeChat account instead of a Patient subject. */
  openid?: unknown;
  appid?: unknown;
  unionid?: unknown;
}

export class DemoTokenError extends Error {}

export class DemoTokenIssuer {
  private constructor(private readonly privateKey: KeyLike, readonly publicKey: KeyLike, private readonly audience: string, private readonly ttlSeconds: number) {}

  static async create(audience: string, ttlSeconds = 3600): Promise<DemoTokenIssuer> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    return new DemoTokenIssuer(privateKey, publicKey, audience, ttlSeconds);
  }

  get trusted(): TrustedIssuer {
    return { issuer: DEMO_ISSUER, keys: this.publicKey };
  }

  async jwks(): Promise<{ keys: object[] }> {
    return { keys: [{ ...(await exportJWK(this.publicKey)), alg: 'ES256', use: 'sig' }] };
  }

  /**
   * Checks the request and signs its token; `subject` must be `Patient/<id>` for a patient, `Practitioner/<id>` for
   * a doctor. A patient may instead come as the mini program's login service issues them: `openid` and `appid`
   * (and `unionid`) without a subject, an account that sees nothing until `$bind-wechat` binds it to a record.
   */
  async issue(req: DemoTokenRequest): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number; subject: string; role: Role }> {
    const role = req.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw new DemoTokenError(`role must be one of ${ROLES.join(', ')}`);
    const wechat = role === 'patient' ? this.wechatOf(req) : undefined;
    const subject = typeof req.subject === 'string' && req.subject ? req.subject : wechat ? `wechat:${wechat.appid}:${wechat.openid}` : `demo-${role}`;
    if (role === 'patient' && !wechat && !idOf(subject, 'Patient')) throw new DemoTokenError('a patient token needs subject "Patient/<id>", or openid and appid');
    if (role === 'doctor' && !idOf(subject, 'Practitioner')) throw new DemoTokenError('a doctor token needs subject "Practitioner/<id>"');
    const functions = Array.isArray(req.functions) ? req.functions.filter((f) => (FUNCTIONS as readonly string[]).includes(f)) : [];
    const token = await new SignJWT({ role, roles: [role, ...functions], ...(subject.includes('/') ? { fhirUser: subject } : {}), ...wechat })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(DEMO_ISSUER)
      .setAudience(this.audience)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds, subject, role: role as Role };
  }

  private wechatOf(req: DemoTokenRequest): WechatAccount | undefined {
    try {
      return wechatAccountOf(req);
    } catch (err) {
      if (err instanceof WechatAccountError) throw new DemoTokenError(err.message);
      throw err;
    }
  }
}
