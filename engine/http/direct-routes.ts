import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Express } from 'express';
import proxyAddr from 'proxy-addr';

/** Connect-style middleware (helmet, cors): works on node's request and response as it does under express. */
export type PlainMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What express's mount would have set and a directly routed handler reads (see fhir-router's FhirHttpRequest). */
export type RoutedRequest = IncomingMessage & { baseUrl?: string; originalUrl?: string; ip?: string; protocol?: string };

/**
 * A path prefix served by a plain node handler without passing through express. For hot APIs whose handler routes
 * its own URL grammar (the FHIR API): express's per-request work — swapping in its request and response prototypes,
 * matching every app-level layer, parseurl — cost as much CPU as a FHIR read by id.
 */
export interface DirectRoute {
  prefix: string;
  /** Run first, in order, as the app runs them for its own routes (security headers, CORS). */
  middleware?: PlainMiddleware[];
  handler: (req: RoutedRequest, res: ServerResponse) => void;
}

/**
 * The server's request listener: a request under a direct route's prefix goes to its handler, with `url` made
 * relative to the prefix and `baseUrl`, `originalUrl`, `ip` and `protocol` set as express sets them (honouring the
 * app's `trust proxy` setting); any other request goes to the app.
 */
export function withDirectRoutes(app: Express, routes: readonly DirectRoute[]): RequestListener {
  if (routes.length === 0) return app;
  return (req, res) => {
    const url = req.url ?? '/';
    const route = routes.find((r) => underPrefix(url, r.prefix));
    if (!route) { app(req, res); return; }
    const routed = req as RoutedRequest;
    routed.originalUrl = url;
    routed.baseUrl = route.prefix;
    routed.url = url.slice(route.prefix.length) || '/';
    if (routed.url.startsWith('?')) routed.url = `/${routed.url}`;
    const trust = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
    routed.ip = proxyAddr(req, trust);
    routed.protocol = protocolOf(req, trust);
    runChain(route.middleware ?? [], routed, res, () => route.handler(routed, res));
  };
}

function underPrefix(url: string, prefix: string): boolean {
  if (!url.startsWith(prefix)) return false;
  const next = url.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/** express's `req.protocol`: the socket's, or the first X-Forwarded-Proto when the peer is a trusted proxy. */
function protocolOf(req: IncomingMessage, trust: (address: string, hop: number) => boolean): string {
  const own = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (!trust(req.socket.remoteAddress ?? '', 0)) return own;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || own;
}

function runChain(chain: PlainMiddleware[], req: IncomingMessage, res: ServerResponse, done: () => void): void {
  let i = 0;
  const next = (err?: unknown): void => {
    if (err) {
      // Header and CORS middleware do not fail on a request; if one does, the answer is a plain 500, as express's.
      if (!res.headersSent) res.statusCode = 500;
      res.end();
      return;
    }
    const mw = chain[i++];
    if (mw) mw(req, res, next);
    else done();
  };
  next();
}
