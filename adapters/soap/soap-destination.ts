import * as soap from 'soap';
import { z } from 'zod';
import type { DestinationConnector, DestinationResponse, OutboundMessage } from '../../engine/channel/channel';
import { Hl7v3FormatError, readAck } from './hl7v3-transmission';
import { SoapFaultError } from './soap-fault';

export const soapDestinationSchema = z.object({
  /** WSDL URL (`http://…?wsdl`) or file path; read once, on the first send. */
  wsdl: z.string().min(1),
  operation: z.string().min(1),
  /** Address to call instead of the WSDL's own (hospital WSDLs often carry an internal host name). */
  endpoint: z.string().url().optional(),
  soapVersion: z.enum(['1.1', '1.2']).default('1.1'),
  timeoutMs: z.number().int().positive().default(30000),
  /**
   * 互联互通 style: call `operation(action, message)` with the message content as `message`, and treat an
   * MCCI_IN000002UV01 AE/AR answer as a failed attempt. Without it, the content is the operation's input as JSON.
   * A map chooses the action by the content's root element (`{ OutpatientChargeRequest: 'OutpatientCharge', … }`),
   * for one destination that serves several of a peer's services.
   */
  hipAction: z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]).optional(),
}).strict();

export type SoapDestinationOptions = z.input<typeof soapDestinationSchema>;

type AsyncOperation = (args: unknown, options: Record<string, unknown>) => Promise<[unknown, string]>;

interface SoapErrorShape {
  message?: string;
  code?: string;
  Fault?: { faultstring?: string; detail?: string };
  root?: { Envelope?: { Body?: { Fault?: Record<string, unknown> } } };
  response?: { status?: number };
  body?: unknown;
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object' && '$value' in (v as object)) return String((v as { $value: unknown }).$value);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Every way a call can fail, as one error whose message says what happened and where (it is what the stage records). */
export function describeSoapError(err: unknown, where: string, timeoutMs: number): Error {
  const e = (err ?? {}) as SoapErrorShape;
  const fault = e.root?.Envelope?.Body?.Fault;
  if (fault) {
    const code = text(fault.faultcode) || text((fault.Code as { Value?: unknown } | undefined)?.Value);
    const reason = text(fault.faultstring) || text((fault.Reason as { Text?: unknown } | undefined)?.Text);
    return new SoapFaultError(code || 'unknown', reason || '(no fault string)', e.response?.status);
  }
  if (e.code === 'ECONNABORTED' || e.code === 'ETIMEDOUT' || /timeout/i.test(e.message ?? '')) return new Error(`no answer from ${where} within ${timeoutMs} ms`);
  if (e.code === 'ECONNREFUSED') return new Error(`connection refused by ${where}`);
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return new Error(`connection to ${where} was reset`);
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return new Error(`host of ${where} not found`);
  // The package throws { Fault: Invalid XML } (not an Error) when the answer does not parse.
  const snippet = typeof e.body === 'string' ? `: ${e.body.slice(0, 200)}` : '';
  if (e.Fault) return new Error(`malformed SOAP reply from ${where} (HTTP ${e.response?.status ?? '?'}): ${e.Fault.faultstring ?? 'unreadable'}: ${String(e.Fault.detail ?? '').split('\n')[0]}`);
  if (e.response?.status && e.response.status >= 400) return new Error(`HTTP ${e.response.status} from ${where}${snippet}`);
  if (/Cannot parse response/.test(e.message ?? '')) return new Error(`malformed SOAP reply from ${where}${snippet}`);
  return new Error(`SOAP call to ${where} failed: ${e.message ?? String(err)}`);
}

/** The root element of an XML text (after the declaration and comments), without its prefix. */
const ROOT = /^\s*(?:<\?[\s\S]*?\?>\s*)?(?:<!--[\s\S]*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)/;

function actionFor(hipAction: string | Record<string, string>, content: string): string {
  if (typeof hipAction === 'string') return hipAction;
  const root = ROOT.exec(content)?.[1];
  const action = root ? hipAction[root] : undefined;
  if (!action) throw new Error(`no 互联互通 action is configured for a ${root ?? '(non-XML)'} message (known: ${Object.keys(hipAction).join(', ')})`);
  return action;
}

/**
 * Calls one WSDL operation per message. The client is built from the WSDL on the first send (and again after a
 * failed build), so a peer that is down when the channel deploys costs retries, not the deployment. Errors are thrown
 * as plain descriptions for the destination's queue policy to retry; nothing is retried here.
 */
export function soapDestination(options: SoapDestinationOptions): DestinationConnector {
  const o = soapDestinationSchema.parse(options);
  let client: Promise<soap.Client> | undefined;
  const where = () => `${o.operation} at ${o.endpoint ?? o.wsdl.replace(/\?wsdl$/i, '')}`;

  const getClient = () => {
    client ??= soap.createClientAsync(o.wsdl, {
      forceSoap12Headers: o.soapVersion === '1.2',
      preserveWhitespace: true,
      wsdl_options: { timeout: o.timeoutMs },
    }, o.endpoint).catch((err) => {
      client = undefined;
      throw new Error(`WSDL ${o.wsdl} could not be read: ${describeSoapError(err, o.wsdl, o.timeoutMs).message}`);
    });
    return client;
  };

  return {
    type: 'soap',
    async send(message: OutboundMessage): Promise<DestinationResponse> {
      const c = await getClient();
      const call = (c as unknown as Record<string, AsyncOperation | undefined>)[`${o.operation}Async`];
      if (typeof call !== 'function') throw new Error(`the WSDL ${o.wsdl} has no operation ${o.operation}`);
      let args: unknown;
      if (o.hipAction) args = { action: actionFor(o.hipAction, message.content), message: message.content };
      else {
        try {
          args = JSON.parse(message.content);
        } catch {
          throw new Error(`content is not the JSON input of ${o.operation}`);
        }
      }
      let result: unknown;
      try {
        [result] = await call.call(c, args, { timeout: o.timeoutMs });
      } catch (err) {
        throw describeSoapError(err, where(), o.timeoutMs);
      }
      if (!o.hipAction) return { response: JSON.stringify(result ?? null) };
      const answer = Object.values((result ?? {}) as Record<string, unknown>).find((v) => typeof v === 'string') as string | undefined;
      if (!answer) throw new Error(`malformed reply from ${where()}: no result string`);
      let ack;
      try {
        ack = readAck(answer);
      } catch (err) {
        throw new Error(`malformed reply from ${where()}: ${(err as Hl7v3FormatError).message}`);
      }
      if (ack && ack.typeCode !== 'AA' && ack.typeCode !== 'CA') throw new Error(`${where()} answered ${ack.typeCode}: ${ack.text ?? '(no reason given)'}`);
      return { response: answer };
    },
  };
}
