import fs from 'node:fs';
import { z } from 'zod';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { soapEndpoint } from './soap-endpoint';
import { soapContentType, SoapRequestFault } from './soap-fault';

export const soapSourceSchema = z.object({
  /** Path of the WSDL that the endpoint publishes and serves (relative to the working directory). */
  wsdl: z.string().min(1),
  maxBody: z.string().default('10mb'),
  /**
   * Output per operation, as the WSDL's output element's fields; `{messageId}` and `{correlationId}` in a value are
   * replaced. An operation without an entry answers an empty output element.
   */
  reply: z.record(z.string(), z.record(z.string(), z.string())).default({}),
}).strict();

export type SoapSourceOptions = z.input<typeof soapSourceSchema>;

const log = childLogger({ component: 'soap-source' });

/**
 * A SOAP listener published from a WSDL on /channels/<channelId> (WSDL at ?wsdl), SOAP 1.1 and 1.2. Every call of any
 * operation is stored as received — the whole envelope, since adapters do not map — with the operation as a content
 * type parameter (`text/xml; charset=utf-8; operation="…"`); the answer goes out only after the store.
 */
export function soapSource(options: SoapSourceOptions): SourceConnector {
  const o = soapSourceSchema.parse(options);
  return {
    type: 'soap',
    async start(ctx: SourceContext) {
      const endpoint = await soapEndpoint({
        wsdl: fs.readFileSync(o.wsdl, 'utf8'),
        maxBody: o.maxBody,
        accepting: () => ctx.accepting(),
        onRefused: (reason) => log.warn('SOAP call refused', { channel: ctx.channelId, reason }),
        handle: async ({ operation, envelope, version }) => {
          let stored;
          try {
            stored = await ctx.accept({ content: envelope, contentType: `${soapContentType(version)}; operation="${operation}"`, encoding: 'utf-8' });
          } catch (err) {
            log.error('SOAP message not stored; caller will retry', { channel: ctx.channelId, operation, error: (err as Error).message });
            throw new SoapRequestFault('message not stored; retry later', 'server');
          }
          const fill = (v: string) => v.replace(/\{messageId\}/g, stored.messageId).replace(/\{correlationId\}/g, stored.correlationId);
          return Object.fromEntries(Object.entries(o.reply[operation] ?? {}).map(([k, v]) => [k, fill(v)]));
        },
      });
      ctx.httpRouter().use(endpoint);
    },
    async stop() {
      // The router is discarded with the deployment; nothing to close.
    },
  };
}
