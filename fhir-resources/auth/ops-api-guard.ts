import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { setMessageView } from '../../engine/http/ops-api';
import { auditEvent, type AuditActor } from '../audit/audit-event';
import type { AuditLog } from '../audit/audit-log';
import { bearerOf } from './fhir-security';
import { TokenRefused, type TokenVerifier } from './token-verifier';

/** Roles that operate the engine (channels, the message browser, reprocess). */
const ENGINE_ROLES = new Set(['engineer', 'admin']);

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** The function that unlocks unmasked message content (see principal.ts FUNCTIONS). */
const BREAK_GLASS = 'break-glass';

function queryOf(req: Request): string | undefined {
  const at = req.originalUrl.indexOf('?');
  return at >= 0 ? req.originalUrl.slice(at + 1).slice(0, 1000) : undefined;
}

/** One AuditEvent per message shown unmasked, written before the content is sent (ops-api.ts MessageView). */
function rawViewRecorder(audit: AuditLog, actor: AuditActor) {
  return (messageIds: string[]) => audit.append(messageIds.map((id) => auditEvent(
    actor,
    { subtype: 'break-glass', action: 'R', entity: `/api/messages/${id}`, breakGlass: true },
    { code: '0', text: 'break-glass: message content shown without masking' },
  )));
}

/**
 * In front of the engine's /api: an engineer's or admin's token, every call audited (with its query: a search of
 * the message content by an ID number is on record). The message browser masks patient identifiers; a holder of
 * the break-glass function sees them by asking for `view=raw`, and every such view is one more AuditEvent
 * (purposeOfEvent BTG) for the auditors. Without an identity provider (production before one is configured) only
 * loopback callers are answered, with content masked: there is nobody to hold the break-glass function.
 */
export function opsApiGuard(audit: AuditLog, verifier: TokenVerifier | undefined): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const draft = { subtype: req.method === 'GET' ? 'read' : 'operation', action: req.method === 'GET' ? 'R' as const : 'E' as const, entity: `/api${req.path}`.slice(0, 200), query: queryOf(req) };
    const wantsRaw = req.method === 'GET' && req.query.view === 'raw';
    setMessageView(res, { raw: false });
    try {
      if (!verifier) {
        if (isLoopback(req.ip) && wantsRaw) {
          res.status(403).json({ error: 'unmasked message content (view=raw) needs a break-glass token, and no identity provider is configured' });
          return;
        }
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
      if (wantsRaw && !principal.functions.includes(BREAK_GLASS)) {
        await audit.append([auditEvent(actor, { ...draft, breakGlass: true }, { code: '4', text: '403 break-glass function required' })]);
        res.status(403).json({ error: 'unmasked message content (view=raw) needs the break-glass function' });
        return;
      }
      await audit.append([auditEvent(actor, draft, { code: '0' })]);
      if (wantsRaw) setMessageView(res, { raw: true, recordRawView: rawViewRecorder(audit, actor) });
      next();
    } catch (err) {
      next(err);
    }
  };
}
