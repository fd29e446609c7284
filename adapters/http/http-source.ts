import express from 'express';
import iconv from 'iconv-lite';
import { z } from 'zod';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';

export interface HttpSourceOptions {
  /** Largest body accepted, e.g. '10mb'. */
  maxBody?: string;
}

export const httpSourceSchema = z.object({ maxBody: z.string().default('10mb') }).strict();

const TEXTUAL = /^(text\/|application\/(json|xml|fhir\+json|fhir\+xml|soap\+xml|hl7-v2|x-hl7|edi-hl7|x-www-form-urlencoded))|\+json|\+xml/i;

/** The charset the sender declared; Chinese hospital systems often send GBK / GB18030 without saying so in the body. */
function charsetOf(contentType: string): string {
  const m = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  return (m?.[1] ?? 'utf-8').toLowerCase();
}

/**
 * Receives messages on POST /channels/<channelId> of the engine's HTTP port. The answer is sent only after the
 * message is durably stored: 202 with the message id, so the sender may forget it; 503 while paused, so it retries.
 */
export function httpSource(options: HttpSourceOptions = {}): SourceConnector {
  const { maxBody } = httpSourceSchema.parse(options);
  return {
    type: 'http',
    async start(ctx: SourceContext) {
      const router = ctx.httpRouter();
      router.post('/', express.raw({ type: () => true, limit: maxBody }), async (req, res) => {
        if (!ctx.accepting()) {
          res.status(503).set('Retry-After', '5').json({ error: `通道 ${ctx.channelId} 已暂停 (channel paused); retry later` });
          return;
        }
        const contentType = String(req.headers['content-type'] ?? 'application/octet-stream');
        const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
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
        const correlationId = typeof req.headers['x-correlation-id'] === 'string' ? req.headers['x-correlation-id'].slice(0, 128) : undefined;
        const result = await ctx.accept({ content, contentType, encoding, correlationId });
        res.status(202).set('X-Correlation-Id', result.correlationId).json(result);
      });
    },
    async stop() {
      // The router is discarded with the deployment; nothing to close.
    },
  };
}
