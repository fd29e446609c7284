import fs from 'node:fs';
import express, { type Router } from 'express';
import type { Knex } from 'knex';
import type { LingshuConfig } from '../../engine/config/config';
import { childLogger } from '../../engine/logger';
import { auditEvent } from '../audit/audit-event';
import { AuditLog } from '../audit/audit-log';
import { FieldCipher } from '../privacy/field-cipher';
import { ProtectedFields } from '../privacy/protected-fields';
import { AccessPolicy } from './access-policy';
import { DemoTokenError, DemoTokenIssuer } from './demo-token-issuer';
import { FhirSecurity } from './fhir-security';
import { authRateLimit } from './http-hardening';
import { opsApiGuard } from './ops-api-guard';
import { TokenVerifier, trustedIssuer, type TrustedIssuer } from './token-verifier';

const log = childLogger({ component: 'security' });
const RETENTION_CHECK_MS = 6 * 3600_000;

export interface Security {
  audit: AuditLog;
  /** Field encryption; absent when no key is configured (demo only: production then serves no patient data). */
  privacy?: ProtectedFields;
  fhir: FhirSecurity;
  /** Mounted at /auth: the demo token issuer (demo profile) behind the rate limit. */
  authRoutes: Router;
  opsGuard: express.RequestHandler;
  stop(): void;
}

function privacyKey(config: LingshuConfig['privacy']): Buffer | undefined {
  const text = config.key || (config.keyFile ? fs.readFileSync(config.keyFile, 'utf8').trim() : '');
  return text ? Buffer.from(text, 'base64') : undefined;
}

/**
 * Audit log, field encryption, token verification and the demo issuer, from configuration. Production without an
 * identity provider or a privacy key still starts (channels keep running) but /fhir answers 503 for patient data
 * and says which setting is missing, and /api answers loopback callers only.
 */
export async function startSecurity(config: LingshuConfig, db: Knex): Promise<Security> {
  const demo = config.profile === 'demo';
  const audit = new AuditLog(db, config.audit.hash);
  await audit.migrate();

  const key = privacyKey(config.privacy);
  const privacy = key ? new ProtectedFields(new FieldCipher(key, config.privacy.cipher)) : undefined;
  if (!privacy) log.warn(demo ? 'no privacy key: ID numbers, phones and addresses are stored unencrypted (demo only)' : 'no privacy key (privacy.key): /fhir serves no patient data');

  const issuers: TrustedIssuer[] = [];
  if (config.auth.issuer) issuers.push(await trustedIssuer({ ...config.auth, jwksUrl: config.auth.jwksUrl || undefined, jwksFile: config.auth.jwksFile || undefined }));
  const demoIssuer = demo ? await DemoTokenIssuer.create(config.auth.audience, config.auth.demoTokenTtlSeconds) : undefined;
  if (demoIssuer) issuers.push(demoIssuer.trusted);
  const verifier = issuers.length ? new TokenVerifier(issuers, config.auth.audience, config.auth.clockToleranceSeconds) : undefined;

  const missing = demo ? undefined : !config.auth.issuer ? 'no identity provider is configured (auth.issuer)' : !privacy ? 'no privacy key is configured (privacy.key)' : undefined;
  if (missing) log.error(`production profile: ${missing}; /fhir answers 503 for patient data`);

  const fhir = new FhirSecurity({ audit, verifier, unavailable: missing, masking: Boolean(privacy), policy: new AccessPolicy(new Set(config.auth.publicTypes)) });

  const authRoutes = express.Router();
  authRoutes.use(authRateLimit(config.auth.rateLimit.windowMs, config.auth.rateLimit.max));
  if (demoIssuer) {
    authRoutes.post('/demo/token', express.json({ limit: '4kb' }), async (req, res, next) => {
      try {
        const issued = await demoIssuer.issue((req.body ?? {}) as never);
        await audit.append([auditEvent({ who: issued.subject, role: issued.role, address: req.ip }, { subtype: 'login', action: 'E', entity: issued.subject }, { code: '0', text: 'demo token issued' })]);
        res.json({ access_token: issued.access_token, token_type: issued.token_type, expires_in: issued.expires_in });
      } catch (err) {
        if (!(err instanceof DemoTokenError)) return next(err);
        await audit.append([auditEvent({ who: 'anonymous', role: 'anonymous', address: req.ip }, { subtype: 'login', action: 'E' }, { code: '4', text: err.message })]);
        res.status(400).json({ error: err.message });
      }
    });
    authRoutes.get('/demo/jwks', async (_req, res) => { res.json(await demoIssuer.jwks()); });
  }

  const prune = () => audit.prune(config.audit.retentionDays).then(
    (removed) => { if (removed > 0) log.info('audit records past retention removed', { removed }); },
    (err: unknown) => log.error('audit retention failed', { error: (err as Error).message }),
  );
  const timer = setInterval(prune, RETENTION_CHECK_MS);
  timer.unref();

  return { audit, privacy, fhir, authRoutes, opsGuard: opsApiGuard(audit, verifier), stop: () => clearInterval(timer) };
}
