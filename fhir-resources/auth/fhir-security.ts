import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { IncomingMessage } from 'node:http';
import { auditEvent } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import type { Operation, OperationLevel } from '../operations/operation';
import { KnexRepository } from '../store/knex-repository';
import type { Repository } from '../store/repository';
import { AccessControl, forbidden } from './access-control';
import { AccessPolicy } from './access-policy';
import { AuthorizedRepository } from './authorized-repository';
import { ANONYMOUS, type Principal } from './principal';
import { TokenRefused, type TokenVerifier } from './token-verifier';
import { boundPatientOf } from './wechat-account';

export interface FhirSecurityOptions {
  audit: AuditLog;
  policy?: AccessPolicy;
  /** Absent: no identity provider, and `unavailable` says why /fhir serves nothing but metadata and public types. */
  verifier?: TokenVerifier;
  /** Production without an identity provider or privacy key: every authenticated call answers 503 with this text. */
  unavailable?: string;
  /** Field encryption is on: personal fields are masked in lists and for roles with no need to see them. */
  masking: boolean;
}

export interface CallerMeta {
  correlationId: string;
  address?: string;
}

function outcome(id: string, code: 'login' | 'transient' | 'forbidden', diagnostics: string): OperationOutcomeError {
  const o: OperationOutcome = { resourceType: 'OperationOutcome', id, issue: [{ severity: 'error', code, diagnostics }] };
  return new OperationOutcomeError(o);
}

export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
}

/**
 * What the FHIR router asks of security: who is calling (401 for a missing, expired, wrongly signed or wrong-audience
 * token, each refusal audited), the repository as that caller may use it, and the gate in front of operations.
 */
export class FhirSecurity {
  readonly policy: AccessPolicy;

  constructor(private readonly o: FhirSecurityOptions) {
    this.policy = o.policy ?? new AccessPolicy();
  }

  /** `path` is below the FHIR base; `metadata` and GETs of the public types need no token. */
  async authenticate(req: IncomingMessage, method: string, path: string, meta: CallerMeta): Promise<Principal> {
    const token = bearerOf(req);
    const first = path.split('/')[0];
    if (!token && method === 'GET' && (path === 'metadata' || this.policy.publicTypes.has(first))) return ANONYMOUS;
    if (this.o.unavailable || !this.o.verifier) {
      throw outcome('service-unavailable', 'transient', `Patient data is not served: ${this.o.unavailable ?? 'no identity provider is configured'}`);
    }
    try {
      return await this.o.verifier.verify(token);
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      await this.o.audit.append([auditEvent(
        { who: 'anonymous', role: 'anonymous', address: meta.address },
        { subtype: 'token-refused', action: 'E', entity: `${method} /fhir/${path}`.slice(0, 200) },
        { code: '4', text: `401 ${err.reason}: ${err.message}` },
        meta.correlationId,
      )]);
      throw outcome('unauthorized', 'login', err.message);
    }
  }

  /**
   * A patient signed in through the mini program whose token names no Patient: the Patient their WeChat account is
   * bound to now (looked up at each request, so a `$bind-wechat` opens the record to the same token at once), or
   * still none — an account that sees no patient's data. `repository` is the store itself: the lookup is the
   * server's, not the caller's.
   */
  async resolve(repository: Repository, principal: Principal): Promise<Principal> {
    if (principal.role !== 'patient' || principal.patientId || !principal.wechat) return principal;
    const patientId = await boundPatientOf(repository, principal.wechat);
    return patientId ? { ...principal, patientId, reference: `Patient/${patientId}` } : principal;
  }

  guard(repository: Repository, principal: Principal, meta: CallerMeta): AuthorizedRepository {
    if (!(repository instanceof KnexRepository)) throw new Error('FHIR security needs the knex repository (its audit rows share the write transaction)');
    const maskingRole = principal.role === 'operator' || principal.role === 'engineer';
    return new AuthorizedRepository(repository, {
      access: new AccessControl(principal, this.policy),
      audit: this.o.audit,
      actor: { who: principal.reference, role: principal.role, address: meta.address },
      correlationId: meta.correlationId,
      maskLists: this.o.masking && principal.role !== 'patient',
      maskAlways: this.o.masking && maskingRole,
    });
  }

  /** Checks the caller may invoke `op` here, then runs it through the caller's repository and records the call. */
  async invoke(repo: Repository, op: Operation, level: OperationLevel, type: string | undefined, id: string | undefined, run: () => Promise<Resource>): Promise<Resource> {
    if (!(repo instanceof AuthorizedRepository)) return run();
    const entity = type ? [type, id].filter(Boolean).join('/') : undefined;
    return repo.recordOperation(op.name, entity, async () => {
      if (!this.policy.canInvoke(repo.access.principal, op.name, type, op.affectsState)) {
        throw forbidden(`Your role (${repo.access.principal.role}) may not invoke $${op.name}${level === 'system' ? '' : ` on ${type}`}`);
      }
      return run();
    });
  }
}
