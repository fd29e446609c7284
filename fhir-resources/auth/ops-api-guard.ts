import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { auditEvent } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import { bearerOf } from './fhir-security';
import { TokenRefused, type TokenVerifier } from './token-verifier';

/** Roles that operate the engine (channels, the message browser, reprocess). */
const ENGINE_ROLES = new Set(['engineer', 'admin']);

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/**
 * In front of the engine's /api: an engineer's or admin's token, every call audited (the message browser shows
 * message content). Without an identity provider (production before one is configured) only loopback callers are
 * answered, so the engine can still be operated on the host itself and nothing is exposed to the network.
 */
export function opsApiGuard(audit: AuditLog, verifier: TokenVerifier | undefined): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const draft = { subtype: req.method === 'GET' ? 'read' : 'operation', action: req.method === 'GET' ? 'R' as const : 'E' as const, entity: `/api${req.path}`.slice(0, 200) };
    try {
      if (!verifier) {
        if (isLoopback(req.ip)) return next();
        res.status(503).json({ error: 'no identity provider is configured: the engine API answers loopback callers only' });
        return;
      }
      let principal;
      try {
        principal = await verifier.verify(bearerOf(req));
      } catch (err) {
        if (!(err instanceof TokenRefused)) throw err;
        await audit.append([auditEvent({ who: 'anonymous', role: 'anonymous', address: req.ip }, { ...draft, subtype: 'token-refused' }, { code: '4', text: `401 ${err.reason}` })]);
        res.setHeader('WWW-Authenticate', 'Bearer realm="lingshu", error="invalid_token"');
        res.status(401).json({ error: err.message });
        return;
      }
      const actor = { who: principal.reference, role: principal.role, address: req.ip };
      if (!ENGINE_ROLES.has(principal.role)) {
        await audit.append([auditEvent(actor, draft, { code: '4', text: '403 forbidden' })]);
        res.status(403).json({ error: `the engine API is for integration engineers and admins, not ${principal.role}s` });
        return;
      }
      await audit.append([auditEvent(actor, draft, { code: '0' })]);
      next();
    } catch (err) {
      next(err);
    }
  };
}
