import { AsyncLocalStorage } from 'node:async_hooks';
import express, { Request, Response, Router } from 'express';
import { XMLValidator } from 'fast-xml-parser';
import iconv from 'iconv-lite';
import * as soap from 'soap';
import { ENVELOPE_NS, faultEnvelope, packageFault, soapContentType, SoapRequestFault, SoapVersion } from './soap-fault';
import { refuseDtd, XmlRefusedError } from './xml-guard';

/** One operation call as a listener's handler sees it. */
export interface SoapCall {
  operation: string;
  /** The operation's input, as the soap package read it against the WSDL. */
  args: Record<string, unknown>;
  /** The envelope exactly as received (decoded text). */
  envelope: string;
  version: SoapVersion;
  soapAction?: string;
}

/** Returns the operation's output object; throw SoapRequestFault to answer with a fault. */
export type SoapOperationHandler = (call: SoapCall) => Promise<Record<string, unknown>>;

export interface SoapEndpointOptions {
  /** WSDL document text; its services, ports and operations are what the endpoint serves. */
  wsdl: string;
  /** Largest envelope accepted, e.g. '10mb': bounds memory before any parsing starts. */
  maxBody: string;
  handle: SoapOperationHandler;
  /** false = answer 503 with a Server fault so the caller retries later (paused channel). */
  accepting?: () => boolean;
  /** Called for requests refused before reaching the handler (DTD, size, charset), for logging. */
  onRefused?: (reason: string) => void;
}

interface CallContext {
  envelope: string;
  version: SoapVersion;
  soapAction?: string;
}

type ServiceMethod = (args: Record<string, unknown>) => Promise<Record<string, unknown>>;
interface WsdlDefinitions {
  /** topElements: the input element of each document/literal operation. */
  services: Record<string, { ports: Record<string, { binding: { methods: Record<string, unknown>; topElements?: Record<string, unknown> } }> }>;
}
type Services = Record<string, Record<string, Record<string, ServiceMethod>>>;

function charsetOf(contentType: string): string {
  const m = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  return (m?.[1] ?? 'utf-8').toLowerCase();
}

/**
 * SOAP 1.2 is announced by its media type (SOAP 1.2 part 2 §7.1.4) and its envelope namespace; callers that send a 1.2
 * envelope as text/xml exist, so the namespace decides when the two disagree.
 */
function versionOf(contentType: string, envelope: string): SoapVersion {
  const head = envelope.slice(0, 4096);
  if (head.includes(ENVELOPE_NS['1.2'])) return '1.2';
  if (head.includes(ENVELOPE_NS['1.1'])) return '1.1';
  return /application\/soap\+xml/i.test(contentType) ? '1.2' : '1.1';
}

/** SOAPAction header (1.1) or the action parameter of the media type (1.2). */
function soapActionOf(req: Request): string | undefined {
  const header = req.headers.soapaction;
  if (typeof header === 'string' && header) return header.replace(/^"|"$/g, '');
  return /action\s*=\s*"?([^";]+)/i.exec(String(req.headers['content-type'] ?? ''))?.[1];
}

const BODY_CHILD = /<(?:[\w.-]+:)?Body\b[^>]*>\s*(?:<!--[\s\S]*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)/;

/**
 * What the soap package cannot be trusted to refuse cleanly: it answers a broken envelope, a missing Body or an unknown
 * operation with a TypeError text or a fault claiming a WS-Security header. Checked here first, so the caller learns
 * what is wrong; returns the reason, or undefined when the envelope names an operation of the WSDL.
 */
function envelopeProblem(envelope: string, inputs: Set<string>): string | undefined {
  const valid = XMLValidator.validate(envelope);
  if (valid !== true) return `envelope is not well-formed XML: ${valid.err.msg}${valid.err.col ? ` (line ${valid.err.line}, column ${valid.err.col})` : ''}`;
  const element = BODY_CHILD.exec(envelope)?.[1];
  if (!element) return 'no SOAP Body with an operation element in the envelope';
  if (!inputs.has(element)) return `no operation of this service takes <${element}> (known: ${[...inputs].join(', ')})`;
  return undefined;
}

function listen(wsdl: string, services: Services, version: SoapVersion): Promise<soap.Server> {
  return new Promise((resolve, reject) => {
    const server: soap.Server = soap.listen(null, {
      path: '/', services, xml: wsdl,
      // The server renders its envelopes in one version per instance, so each version gets its own.
      forceSoap12Headers: version === '1.2',
      suppressStack: true,
      callback: (err: unknown) => (err ? reject(err) : resolve(server)),
    } as soap.IServerOptions);
  });
}

/**
 * An HTTP endpoint serving the operations of a WSDL over SOAP 1.1 and 1.2, on the soap package's server in its
 * serverless form: the HTTP side (body limit, DTD refusal, version choice, WSDL publication) stays here, and the
 * package only parses envelopes and renders answers. `GET ?wsdl` returns the WSDL with its addresses pointing at
 * the URL it was fetched from, because a hospital's caller usually generates its stub from that very URL.
 */
export async function soapEndpoint(options: SoapEndpointOptions): Promise<Router> {
  refuseDtd(options.wsdl, 'WSDL');
  const context = new AsyncLocalStorage<CallContext>();
  const services: Services = {};
  const servers: Record<SoapVersion, soap.Server> = {
    '1.1': await listen(options.wsdl, services, '1.1'),
    '1.2': await listen(options.wsdl, services, '1.2'),
  };
  // The parsed WSDL is the server's own (typed private); its services, ports and methods name what must be served.
  const wsdlOf = (v: SoapVersion) => (servers[v] as unknown as { wsdl: { definitions: WsdlDefinitions; options: Record<string, unknown> } }).wsdl;
  // listen() does not pass preserveWhitespace on to the WSDL that parses requests; without it a message's leading and
  // trailing whitespace would be trimmed, and the store must keep what was received.
  for (const v of ['1.1', '1.2'] as const) wsdlOf(v).options.preserveWhitespace = true;
  const definitions = wsdlOf('1.1').definitions;
  const inputs = new Set<string>();
  for (const [serviceName, service] of Object.entries(definitions.services)) {
    services[serviceName] = {};
    for (const [portName, port] of Object.entries(service.ports)) {
      services[serviceName][portName] = {};
      for (const element of Object.keys(port.binding.topElements ?? {})) inputs.add(element);
      for (const operation of Object.keys(port.binding.methods)) {
        inputs.add(operation);
        services[serviceName][portName][operation] = async (args) => {
          const call = context.getStore()!;
          try {
            return await options.handle({ operation, args: args ?? {}, ...call });
          } catch (err) {
            // A plain Error would reach the caller as its toString(); only deliberate faults say anything.
            throw packageFault(call.version, err instanceof SoapRequestFault ? err : new SoapRequestFault('internal error; the message was not accepted', 'server'));
          }
        };
      }
    }
  }

  const rawBody = express.raw({ type: () => true, limit: options.maxBody });
  const router = express.Router();
  const refuse = (res: Response, version: SoapVersion, status: number, reason: string, blame: 'client' | 'server' = 'client') => {
    options.onRefused?.(reason);
    res.status(status).type(soapContentType(version)).send(faultEnvelope(version, blame, reason));
  };

  router.get('/', (req, res) => {
    if (!Object.keys(req.query).some((k) => k.toLowerCase() === 'wsdl')) {
      res.status(404).type('text/plain').send('GET ?wsdl for the service description; calls are POSTed');
      return;
    }
    const here = `${req.protocol}://${req.get('host')}${req.baseUrl}`;
    res.type('text/xml; charset=utf-8').send(options.wsdl.replace(/(<(?:\w+:)?address\b[^>]*?\blocation=")[^"]*(")/g, `$1${here}$2`));
  });

  router.post('/', (req, res) => {
    const contentType = String(req.headers['content-type'] ?? 'text/xml');
    const guessed: SoapVersion = /application\/soap\+xml/i.test(contentType) ? '1.2' : '1.1';
    rawBody(req, res, async (err?: unknown) => {
      if (err) {
        const e = err as { type?: string; message?: string };
        refuse(res, guessed, e.type === 'entity.too.large' ? 413 : 400, e.type === 'entity.too.large' ? `envelope larger than ${options.maxBody}` : `unreadable body: ${e.message}`);
        return;
      }
      const charset = charsetOf(contentType);
      if (!iconv.encodingExists(charset)) return refuse(res, guessed, 415, `unsupported charset ${charset}`);
      const envelope = iconv.decode(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), charset);
      const version = versionOf(contentType, envelope);
      try {
        refuseDtd(envelope, 'SOAP envelope');
      } catch (e) {
        return refuse(res, version, 400, (e as XmlRefusedError).message);
      }
      const problem = envelopeProblem(envelope, inputs);
      if (problem) return refuse(res, version, 400, problem);
      if (options.accepting && !options.accepting()) {
        res.set('Retry-After', '5');
        return refuse(res, version, 503, 'channel paused; retry later', 'server');
      }
      const soapAction = soapActionOf(req);
      // The operation is found from the body's element, not from SOAPAction: hospital callers send empty, quoted or
      // made-up actions, and the package fails on an action it cannot match.
      let answer;
      try {
        answer = await context.run({ envelope, version, soapAction }, () => servers[version].processRequest(envelope, { headers: {}, url: '/' }));
      } catch (e) {
        // Nothing may escape this callback: express does not catch its rejections, and the process must not fall over.
        options.onRefused?.(`internal error: ${(e as Error)?.message ?? e}`);
        return refuse(res, version, 500, 'internal error; the message was not accepted', 'server');
      }
      if (!/^\s*</.test(answer.body)) {
        // The package answers problems it does not model (no such operation, no body) with bare text.
        return refuse(res, version, 400, `not a call of this service: ${answer.body.slice(0, 200)}`);
      }
      res.status(answer.statusCode).type(soapContentType(version)).send(answer.body);
    });
  });
  return router;
}
