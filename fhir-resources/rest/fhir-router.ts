import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { CapabilityStatement, OperationOutcome } from '@medplum/fhirtypes';
import type winston from 'winston';
import { childLogger } from '../../engine/logger';
import type { FhirSecurity } from '../auth/fhir-security';
import type { Operation } from '../operations/operation';
import { OperationRegistry } from '../operations/operation-registry';
import type { Repository } from '../store/repository';
import { capabilityStatement } from './capability-statement';
import { errorOutcome } from './error-outcome';
import type { FhirContext, FhirRequest, FhirResponse } from './fhir-request';
import { parsePrefer } from './http-headers';
import { methodNotAllowed, statusOf } from './http-outcomes';
import { executeFhirRequest } from './interaction-dispatch';
import { BODY_LIMIT_BYTES, decodeBody, type BodyKind } from './request-body';

export interface FhirRouterOptions {
  repository: Repository;
  operations?: readonly Operation[] | OperationRegistry;
  /** Absolute FHIR base for links, Location and fullUrl; by default taken from each request (Host + mount path). */
  baseUrl?: string;
  logger?: winston.Logger;
  /**
   * Authentication, access control and audit (fhir-resources/auth). Without it the router trusts its caller: for
   * tests of the REST layer and embedding behind another gate, never for the server's own /fhir.
   */
  security?: FhirSecurity;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const CORRELATION_HEADER = 'X-Correlation-Id';
/** A client's correlation id is echoed and logged, so only a sane token is taken; anything else gets a fresh one. */
const CORRELATION_PATTERN = /^[A-Za-z0-9._:\-]{1,128}$/;

type Query = Record<string, string | string[]>;

function queryOf(rawQuery: string): Query {
  const query: Query = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    const prev = query[k];
    query[k] = prev === undefined ? v : ([] as string[]).concat(prev, v);
  }
  return query;
}

function acceptedBodies(method: string, path: string): BodyKind[] {
  if (method === 'PATCH') return ['json-patch'];
  if (method === 'POST' && path.endsWith('/_search')) return ['form'];
  return ['fhir-json'];
}

function decodePath(path: string): string {
  return path.split('/').map((s) => { try { return decodeURIComponent(s); } catch { return s; } }).join('/').replace(/^\/+|\/+$/g, '');
}

function toFhirRequest(req: Request): FhirRequest {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw methodNotAllowed(req.method, req.path);
  const path = decodePath(req.path);
  const q = req.originalUrl.indexOf('?');
  const rawQuery = q >= 0 ? req.originalUrl.slice(q + 1) : '';
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const accepted = acceptedBodies(method, `/${path}`);
  const body = hasBody ? decodeBody(req.body as Buffer | undefined, req.get('content-type'), accepted) : undefined;
  return {
    method: method as FhirRequest['method'],
    path,
    rawQuery,
    query: queryOf(rawQuery),
    body,
    bodyKind: body === undefined ? undefined : accepted[0],
    ifMatch: req.get('if-match'),
    ifNoneMatch: req.get('if-none-match'),
    ifNoneExist: req.get('if-none-exist'),
    prefer: parsePrefer(req.get('prefer')),
  };
}

/** Bodies served often and never changed (the CapabilityStatement, ~370 kB of JSON) are serialised once. */
const serialised = new WeakMap<object, string>();

function send(res: Response, fhirReq: FhirRequest | undefined, out: FhirResponse): void {
  if (out.etag) res.setHeader('ETag', out.etag);
  if (out.lastModified) res.setHeader('Last-Modified', out.lastModified);
  if (out.location) res.setHeader('Location', out.location);
  res.status(out.status);
  if (out.status === 304) { res.end(); return; }
  const preferred = out.written ? fhirReq?.prefer.return ?? 'representation' : 'representation';
  const body = preferred === 'OperationOutcome' ? out.outcome ?? out.body : preferred === 'minimal' ? undefined : out.body;
  if (body === undefined) { res.end(); return; }
  res.setHeader('Content-Type', FHIR_JSON);
  res.end(serialised.get(body) ?? JSON.stringify(body));
}

function sendOutcome(res: Response, outcome: OperationOutcome): void {
  res.status(statusOf(outcome)).setHeader('Content-Type', FHIR_JSON);
  res.end(JSON.stringify(outcome));
}

/**
 * The FHIR R4 RESTful API over a Repository, mounted by the server at `/fhir`. Every answer is FHIR JSON; every
 * error an OperationOutcome with the status getStatus() gives it; every request carries a correlation id
 * (X-Correlation-Id, taken from the client or made here) into the repository and the log.
 */
export function fhirRouter(options: FhirRouterOptions): Router {
  const operations = options.operations instanceof OperationRegistry ? options.operations : new OperationRegistry(options.operations ?? []);
  const log = options.logger ?? childLogger({ component: 'fhir-rest' });
  const capabilities = new Map<string, CapabilityStatement>();
  const capability = (ctx: FhirContext): FhirResponse => {
    let cs = capabilities.get(ctx.baseUrl);
    if (!cs) {
      cs = capabilityStatement(ctx.baseUrl, operations, { name: 'Lingshu', auditTrail: Boolean(options.security) });
      // Keyed by base URL, which comes from the Host header unless configured: bounded so odd Hosts cannot grow it.
      if (capabilities.size >= 8) capabilities.delete(capabilities.keys().next().value!);
      capabilities.set(ctx.baseUrl, cs);
      serialised.set(cs, JSON.stringify(cs));
    }
    return { status: 200, body: cs };
  };

  const router = express.Router();

  router.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.get(CORRELATION_HEADER);
    res.locals.correlationId = given && CORRELATION_PATTERN.test(given) ? given : randomUUID();
    res.setHeader(CORRELATION_HEADER, res.locals.correlationId);
    next();
  });

  router.use(express.raw({ type: () => true, limit: BODY_LIMIT_BYTES }));

  router.use(async (req: Request, res: Response) => {
    const correlationId = res.locals.correlationId as string;
    let fhirReq: FhirRequest | undefined;
    try {
      fhirReq = toFhirRequest(req);
      let repo = options.repository.withContext({ correlationId });
      const security = options.security;
      if (security) {
        const caller = { correlationId, address: req.ip };
        const principal = await security.resolve(repo, await security.authenticate(req, fhirReq.method, fhirReq.path, caller));
        repo = security.guard(repo.withContext({ correlationId, author: { reference: principal.reference } }), principal, caller);
      }
      const ctx: FhirContext = {
        repo,
        baseUrl: options.baseUrl ?? `${req.protocol}://${req.get('host')}${req.baseUrl}`,
        operations,
        correlationId,
        ...(security ? { operationGate: (r, op, level, type, id, run) => security.invoke(r, op, level, type, id, run) } : {}),
      };
      send(res, fhirReq, await executeFhirRequest(ctx, fhirReq, capability));
    } catch (err) {
      reportError(req, res, err);
    }
  });

  // body-parser's failures (413, bad charset, aborted uploads) arrive here.
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => reportError(req, res, err));

  function reportError(req: Request, res: Response, err: unknown): void {
    const outcome = errorOutcome(err);
    const status = statusOf(outcome);
    const meta = { correlationId: res.locals.correlationId, method: req.method, path: req.path, status };
    if (status >= 500) log.error('FHIR request failed', { ...meta, err });
    else log.info('FHIR request refused', { ...meta, issue: outcome.issue?.[0]?.diagnostics ?? outcome.issue?.[0]?.details?.text });
    if (res.headersSent) { res.end(); return; }
    // RFC 6750 §3: a refused bearer token is answered with a challenge.
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="lingshu", error="invalid_token"');
    sendOutcome(res, outcome);
  }

  return router;
}
