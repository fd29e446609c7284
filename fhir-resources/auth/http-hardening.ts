import cors from 'cors';
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { PlainMiddleware } from '../../engine/http/direct-routes';

/**
 * HTTP headers and limits for the whole app: helmet's defaults (HSTS, nosniff, frame-ancestors none…), CORS only for
 * the configured browser origins, and rate limits for the token endpoints and the payment notification endpoints. TLS (also 国密 TLS) ends at the hospital's
 * reverse proxy in front of Lingshu; behind it set `app.set('trust proxy', …)` so that `req.ip` is the client.
 * Plain node middleware, so that the routes served without express (/fhir) run the same ones.
 */
export function securityHeaders(corsOrigins: string[]): PlainMiddleware[] {
  const allowed = new Set(corsOrigins);
  return [
    helmet(),
    cors({
      origin: (origin, done) => done(null, origin !== undefined && allowed.has(origin)),
      allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Exist', 'If-None-Match', 'Prefer', 'X-Correlation-Id'],
      exposedHeaders: ['ETag', 'Location', 'Last-Modified', 'X-Correlation-Id'],
      maxAge: 600,
    }),
  ];
}

export function authRateLimit(windowMs: number, max: number): RequestHandler {
  return rateLimit({
    windowMs,
    limit: max,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    message: { error: 'too many token requests from this address; try again later' },
  });
}

/**
 * `/channels/<channel>/notify` (WeChat Pay, Alipay): per client address. The answer is JSON that both gateways read
 * as a failure, so they retry later as they do after any refused notification.
 */
export function notifyRateLimit(windowMs: number, max: number): RequestHandler {
  return rateLimit({
    windowMs,
    limit: max,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    message: { code: 'FAIL', message: 'too many notifications from this address; try again later' },
  });
}
