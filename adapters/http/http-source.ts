import express from 'express';
import iconv from 'iconv-lite';
import { z } from 'zod';
import { XMLValidator } from 'fast-xml-parser';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { authChecker, httpAuthSchema } from './http-auth';

export const httpSourceSchema = z.object({
  /** Largest body accepted, e.g. '10mb'. */
  maxBody: z.string().default('10mb'),
  /** Below /channels/<channelId>, for peers whose URL layout is fixed on their side (e.g. /notify/result). */
  path: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'a path starting with /').default('/'),
  methods: z.array(z.enum(['POST', 'PUT', 'PATCH'])).min(1).default(['POST']),
  /** A body that does not parse as the declared kind is refused with 400 before anything is stored. */
  body: z.enum(['any', 'json', 'xml']).default('any'),
  auth: httpAuthSchema.default({ type: 'none' }),
}).strict();

export type HttpSourceOptions = z.input<typeof httpSourceSchema>;

/** Why the body is not the declared kind, or undefined. XML is only validated: no entity is ever expanded here. */
function bodyProblem(kind: 'any' | 'json' | 'xml', content: string): string | undefined {
  if (kind === 'json') {
    try {
      JSON.parse(content);
    } catch (err) {
      return `body is not JSON: ${(err as Error).message}`;
    }
  }
  if (kind === 'xml') {
    const valid = XMLValidator.validate(content);
    if (valid !== true) return `body is not XML: ${valid.err.msg} (line ${valid.err.line})`;
  }
  return undefined;
}

const TEXTUAL = /^(text\/|application\/(json|xml|fhir\+json|fhir\+xml|soap\+xml|hl7-v2|x-hl7|edi-hl7|x-www-form-urlencoded))|\+json|\+xml/i;

/** The charset the sender declared; Chinese hospital systems often send GBK / GB18030 without saying so in the body. */
function charsetOf(contentType: string): string {
  const m = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  return (m?.[1] ?? 'utf-8').toLowerCase();
}

/**
 * Receives messages on POST /channels/<channelId> of the engine's HTTP port (path, methods, body kind and
 * authentication per channel). The answer is sent only after the message is durably stored: 202 with the message
 * id, so the sender may forget it; 503 while paused, so it retries; 401 / 400 for requests that are not accepted.
 */
export function httpSource(options: HttpSourceOptions = {}): SourceConnector {
  const o = httpSourceSchema.parse(options);
  return {
    type: 'http',
    async start(ctx: SourceContext) {
      const router = ctx.httpRouter();
      const refusal = authChecker(o.auth);
      router.all(o.path, express.raw({ type: () => true, limit: o.maxBody }), async (req, res) => {
        if (!o.methods.includes(req.method as 'POST')) {
          res.status(405).set('Allow', o.methods.join(', ')).json({ error: `method ${req.method} not allowed; use ${o.methods.join(' or ')}` });
          return;
        }
        if (!ctx.accepting()) {
          res.status(503).set('Retry-After', '5').json({ error: `通道 ${ctx.channelId} 已暂停 (channel paused); retry later` });
          return;
        }
        const contentType = String(req.headers['content-type'] ?? 'application/octet-stream');
        const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const refused = refusal(req.headers, body);
        if (refused) {
          res.status(401).json({ error: refused });
          return;
        }
        let content: string;
        let encoding: string;
        if (TEXTUAL.test(contentType) || /charset=/i.test(contentType)) {
          encoding = charsetOf(contentType);
          if (!iconv.encodingExists(encoding)) {
            res.status(415).json({ error: `unsupported charset ${encoding}` });
            return;
          }
          content = iconv.decode(body, encoding);
        } else {
          encoding = 'base64';
          content = body.toString('base64');
        }
        const problem = bodyProblem(o.body, content);
        if (problem) {
          res.status(400).json({ error: problem });
          return;
        }
        const correlationId = typeof req.headers['x-correlation-id'] === 'string' ? req.headers['x-correlation-id'].slice(0, 128) : undefined;
        const result = await ctx.accept({ content, contentType, encoding, correlationId });
        // Straight to the socket: express's send (ETag hash, freshness check) is a noticeable share of a request
        // that does little else, and a 202 has no use for either.
        const json = JSON.stringify(result);
        res.writeHead(202, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(json),
          'X-Correlation-Id': result.correlationId,
        }).end(json);
      });
    },
    async stop() {
      // The router is discarded with the deployment; nothing to close.
    },
  };
}
