/**
 * Who is calling, as the access rules see it: one role, further functions (`auditor`), SMART-on-FHIR scopes and the
 * FHIR identity of the user (`fhirUser`: the Patient a patient is, the Practitioner a doctor is).
 */
export const ROLES = ['patient', 'doctor', 'operator', 'engineer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Functions a user may hold beside the role: `auditor` may search the audit trail; `break-glass` lets an engineer or
 * admin ask the message browser for unmasked content (`?view=raw`), every such view audited.
 */
export const FUNCTIONS = ['auditor', 'break-glass'] as const;

export interface Scope {
  context: 'patient' | 'user' | 'system';
  /** A resource type or `*`. */
  type: string;
  read: boolean;
  write: boolean;
}

export interface Principal {
  /** The token's `sub`. */
  subject: string;
  role: Role | 'anonymous';
  functions: string[];
  scopes: Scope[];
  /** Patient role: the id of the Patient whose compartment is theirs. */
  patientId?: string;
  /** Doctor role: the id of their Practitioner. */
  practitionerId?: string;
  /** The reference the audit trail names as the agent. */
  reference: string;
  /** Patient role, signed in through the mini program: the WeChat account, bound to a Patient by `$bind-wechat`. */
  wechat?: WechatAccount;
}

/**
 * A WeChat user as one app sees them: `openid` is per app (小程序 / 公众号 `appid`), `unionid` the same across the
 * hospital's apps under one 开放平台 account (present only when the apps are linked there).
 */
export interface WechatAccount {
  appid: string;
  openid: string;
  unionid?: string;
}

export const ANONYMOUS: Principal = { subject: 'anonymous', role: 'anonymous', functions: [], scopes: [], reference: 'anonymous' };

const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$/;

/** SMART v1 (`patient/*.read`, `user/ServiceRequest.write`) and v2 (`user/Observation.rs`) resource scopes. */
export function parseScopes(text: string): Scope[] {
  const scopes: Scope[] = [];
  for (const word of text.split(/\s+/)) {
    const m = SCOPE.exec(word);
    if (!m || m[3] === '') continue;
    const perm = m[3];
    const v1 = perm === 'read' || perm === 'write' || perm === '*';
    scopes.push({
      context: m[1] as Scope['context'],
      type: m[2],
      read: v1 ? perm !== 'write' : /[rs]/.test(perm),
      write: v1 ? perm !== 'read' : /[cud]/.test(perm),
    });
  }
  return scopes;
}

/** What a role may ask for when its token carries no `scope` claim. */
export function defaultScopes(role: Role): string {
  return role === 'patient' ? 'patient/*.read patient/*.write' : 'user/*.read user/*.write';
}

/** `Patient/123` → `123` when the reference is of that type. */
export function idOf(reference: string | undefined, type: string): string | undefined {
  if (!reference) return undefined;
  const m = new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})$`).exec(reference);
  return m?.[1];
}
