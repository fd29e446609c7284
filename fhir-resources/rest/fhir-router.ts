import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
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

/**
 * A request as the FHIR handler reads it: node's, plus what express adds when it mounts the handler (or the
 * server's direct route sets the same way): the mount path, the client address and the scheme, both as trusted
 * proxies report them.
 */
export type FhirHttpRequest = IncomingMessage & { baseUrl?: string; ip?: string; protocol?: string; body?: unknown };

/** Mountable by express (`app.use('/fhir', handler)`) and callable directly from a node http server. */
export type FhirHttpHandler = (req: FhirHttpRequest, res: ServerResponse, next?: (err?: unknown) => void) => void;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

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

/** The request's path below the mount point and its query string. */
function splitUrl(req: IncomingMessage): { path: string; rawQuery: string } {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q >= 0 ? { path: url.slice(0, q), rawQuery: url.slice(q + 1) } : { path: url, rawQuery: '' };
}

function hasBody(method: string | undefined): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

function toFhirRequest(req: FhirHttpRequest): FhirRequest {
  const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET';
  const url = splitUrl(req);
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw methodNotAllowed(method, url.path);
  const path = decodePath(url.path);
  const accepted = acceptedBodies(method, `/${path}`);
  const body = hasBody(method) ? decodeBody(req.body as Buffer | undefined, header(req, 'content-type'), accepted) : undefined;
  return {
    method: method as FhirRequest['method'],
    path,
    rawQuery: url.rawQuery,
    query: queryOf(url.rawQuery),
    body,
    bodyKind: body === undefined ? undefined : accepted[0],
    ifMatch: header(req, 'if-match'),
    ifNoneMatch: header(req, 'if-none-match'),
    ifNoneExist: header(req, 'if-none-exist'),
    prefer: parsePrefer(header(req, 'prefer')),
  };
}

/** Bodies served often and never changed (the CapabilityStatement, ~370 kB of JSON) are serialised once. */
const serialised = new WeakMap<object, string>();

function send(res: ServerResponse, fhirReq: FhirRequest | undefined, out: FhirResponse): void {
  if (out.etag) res.setHeader('ETag', out.etag);
  if (out.lastModified) res.setHeader('Last-Modified', out.lastModified);
  if (out.location) res.setHeader('Location', out.location);
  res.statusCode = out.status;
  if (out.status === 304) { res.end(); return; }
  const preferred = out.written ? fhirReq?.prefer.return ?? 'representation' : 'representation';
  const body = preferred === 'OperationOutcome' ? out.outcome ?? out.body : preferred === 'minimal' ? undefined : out.body;
  if (body === undefined) { res.end(); return; }
  res.setHeader('Content-Type', FHIR_JSON);
  res.end(serialised.get(body) ?? JSON.stringify(body));
}

function sendOutcome(res: ServerResponse, outcome: OperationOutcome): void {
  res.statusCode = statusOf(outcome);
  res.setHeader('Content-Type', FHIR_JSON);
  res.end(JSON.stringify(outcome));
}

/**
 * The FHIR R4 RESTful API over a Repository, mounted by the server at `/fhir`. Every answer is FHIR JSON; every
 * error an OperationOutcome with the status getStatus() gives it; every request carries a correlation id
 * (X-Correlation-Id, taken from the client or made here) into the repository and the log.
 *
 * A plain node handler rather than an express Router: the FHIR URL grammar is routed by interaction-dispatch, and
 * express's per-request work (its request and response prototypes, layer matching, parseurl) was a tenth of a read's
 * CPU. Express still mounts it; the server also routes /fhir to it directly (engine/http/direct-routes).
 */
export function fhirRouter(options: FhirRouterOptions): FhirHttpHandler {
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
  // body-parser reads plain node requests too: the 10 MB limit (also against Content-Length), Content-Encoding.
  const readBody = express.raw({ type: () => true, limit: BODY_LIMIT_BYTES });

  async function handle(req: FhirHttpRequest, res: ServerResponse, correlationId: string): Promise<void> {
    let fhirReq: FhirRequest | undefined;
    try {
      fhirReq = toFhirRequest(req);
      let repo = options.repository.withContext({ correlationId });
      const security = options.security;
      if (security) {
        const caller = { correlationId, address: req.ip ?? req.socket.remoteAddress };
        const principal = await security.resolve(repo, await security.authenticate(req, fhirReq.method, fhirReq.path, caller));
        repo = security.guard(repo.withContext({ correlationId, author: { reference: principal.reference } }), principal, caller);
      }
      const ctx: FhirContext = {
        repo,
        baseUrl: options.baseUrl ?? `${req.protocol ?? 'http'}://${header(req, 'host')}${req.baseUrl ?? ''}`,
        operations,
        correlationId,
        ...(security ? { operationGate: (r, op, level, type, id, run) => security.invoke(r, op, level, type, id, run) } : {}),
      };
      send(res, fhirReq, await executeFhirRequest(ctx, fhirReq, capability));
    } catch (err) {
      reportError(req, res, correlationId, err);
    }
  }

  function reportError(req: IncomingMessage, res: ServerResponse, correlationId: string, err: unknown): void {
    const outcome = errorOutcome(err);
    const status = statusOf(outcome);
    const meta = { correlationId, method: req.method, path: splitUrl(req).path, status };
    if (status >= 500) log.error('FHIR request failed', { ...meta, err });
    else log.info('FHIR request refused', { ...meta, issue: outcome.issue?.[0]?.diagnostics ?? outcome.issue?.[0]?.details?.text });
    if (res.headersSent) { res.end(); return; }
    // RFC 6750 §3: a refused bearer token is answered with a challenge.
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="lingshu", error="invalid_token"');
    sendOutcome(res, outcome);
  }

  return (req, res) => {
    const given = header(req, 'x-correlation-id');
    const correlationId = given && CORRELATION_PATTERN.test(given) ? given : randomUUID();
    res.setHeader(CORRELATION_HEADER, correlationId);
    if (!hasBody(req.method)) { void handle(req, res, correlationId); return; }
    // Its failures (413, an unsupported encoding, an aborted upload) come back as errors with a `type`.
    readBody(req as Parameters<typeof readBody>[0], res as Parameters<typeof readBody>[1], (err?: unknown) => {
      if (err) reportError(req, res, correlationId, err);
      else void handle(req, res, correlationId);
    });
  };
}
