import { z } from 'zod';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { bundledWsdl } from './bundled-wsdl';
import { Hl7v3FormatError, mcciAck, readTransmission, Transmission } from './hl7v3-transmission';
import { soapEndpoint } from './soap-endpoint';
import { SoapRequestFault } from './soap-fault';
import { XmlRefusedError } from './xml-guard';

export const hipSourceSchema = z.object({
  maxBody: z.string().default('10mb'),
  /** Our device id in acknowledgements (sender/device/id/item@extension). */
  device: z.string().min(1).default('LINGSHU'),
  /** Accept only these actions; any other is answered AE. All when absent. */
  actions: z.array(z.string().min(1)).optional(),
}).strict();

export type HipSourceOptions = z.input<typeof hipSourceSchema>;

export const HL7V3_CONTENT_TYPE = 'application/hl7-v3+xml';

const log = childLogger({ component: 'hl7v3-hip' });

/** Media-type parameter value: quoted, and short enough for the store's content type column. */
function param(value: string): string {
  return `"${value.replace(/["\\\r\n]/g, '').slice(0, 80)}"`;
}

/**
 * The generic 互联互通 entry `HIPMessageServer(action, message)` (formats.md §3): the HL7 v3 interaction in `message`
 * is stored as the channel's message, with the action and the interaction as parameters of its content type
 * (`application/hl7-v3+xml; action="PatientInfoRegister"; interaction="PRPA_IN201311UV02"`) so that filters can route
 * on them, and its id@extension as correlation id. The MCCI_IN000002UV01 answer is AA only once the message is durably
 * stored; AE with the reason when it cannot be read (it is not stored: there is nothing a channel could do with it).
 * A failure to store is a Server fault, not AE, so that the sender's platform retries the call.
 */
export function hipSource(options: HipSourceOptions = {}): SourceConnector {
  const o = hipSourceSchema.parse(options);
  return {
    type: 'hl7v3-hip',
    async start(ctx: SourceContext) {
      const endpoint = await soapEndpoint({
        wsdl: bundledWsdl('hip-message-server.wsdl'),
        maxBody: o.maxBody,
        accepting: () => ctx.accepting(),
        onRefused: (reason) => log.warn('互联互通 call refused', { channel: ctx.channelId, reason }),
        handle: async ({ args }) => {
          const action = typeof args.action === 'string' ? args.action.trim() : '';
          const message = typeof args.message === 'string' ? args.message : '';
          const ack = (typeCode: 'AA' | 'AE', text: string, target?: Transmission) => ({ HIPMessageServerResult: mcciAck({ typeCode, text, target, device: o.device }) });
          let transmission: Transmission;
          try {
            transmission = readTransmission(message);
          } catch (err) {
            if (!(err instanceof Hl7v3FormatError || err instanceof XmlRefusedError)) throw err;
            log.warn('互联互通 message rejected (AE)', { channel: ctx.channelId, action, reason: err.message });
            return ack('AE', err.message);
          }
          if (o.actions && !o.actions.includes(action)) {
            log.warn('互联互通 action not served (AE)', { channel: ctx.channelId, action, interaction: transmission.interaction });
            return ack('AE', `action "${action}" is not served by this endpoint`, transmission);
          }
          const contentType = `${HL7V3_CONTENT_TYPE}; charset=utf-8${action ? `; action=${param(action)}` : ''}; interaction=${param(transmission.interaction)}`;
          try {
            await ctx.accept({ content: message, contentType, encoding: 'utf-8', correlationId: transmission.messageId?.slice(0, 255) });
          } catch (err) {
            log.error('互联互通 message not stored; caller will retry', { channel: ctx.channelId, action, error: (err as Error).message });
            throw new SoapRequestFault('message not stored; retry later', 'server');
          }
          return ack('AA', '成功', transmission);
        },
      });
      ctx.httpRouter().use(endpoint);
    },
    async stop() {
      // The router is discarded with the deployment; nothing to close.
    },
  };
}
