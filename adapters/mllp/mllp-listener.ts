import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import type { AcceptResult, SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { AckCode, AckError, buildAck } from './hl7-ack';
import { decodeMessage, encodeMessage, isKnownCharset } from './hl7-charset';
import { Hl7HeaderError, MshHeader, readMsh } from './hl7-header';
import { encodeFrame, FrameDecoder, FrameEvent } from './mllp-framing';

export const mllpListenerSchema = z.object({
  port: z.number().int().min(0).max(65535),
  host: z.string().default('0.0.0.0'),
  /** 'auto' = MSH-18, else the bytes (see hl7-charset.ts); or an iconv name the vendor really sends, e.g. 'gb18030'. */
  charset: z.string().default('auto').refine(isKnownCharset, 'an iconv-lite charset name (utf-8, gb18030, gbk …) or auto'),
  /**
   * after-store: AA once the message is durably stored, whatever our filters and transformer made of it (a mapping
   * fault is ours to fix and reprocess). after-processing: the ACK also reports the channel's processing, so a
   * transformer failure answers AE.
   */
  ackTiming: z.enum(['after-store', 'after-processing']).default('after-store'),
  /** original: AA/AE/AR. enhanced: commit acks CA/CE/CR sent as MSH-15 asks (AL, NE, ER, SU). */
  ackMode: z.enum(['original', 'enhanced']).default('original'),
  maxFrameBytes: z.number().int().positive().default(16 * 1024 * 1024),
  maxConnections: z.number().int().positive().default(64),
  /** Frames of one connection being stored at once; beyond it the socket is paused (backpressure on the sender). */
  maxInFlight: z.number().int().positive().default(32),
  tls: z.object({
    certFile: z.string(),
    keyFile: z.string(),
    caFile: z.string().optional(),
    requireClientCert: z.boolean().default(false),
  }).strict().optional(),
}).strict();

export type MllpListenerOptions = z.input<typeof mllpListenerSchema>;

export interface MllpListener extends SourceConnector {
  /** The bound port (useful with port 0). */
  readonly port: number;
}

interface Log {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

type Outcome = 'ok' | 'error' | 'reject' | 'retry-later';

const CODES: Record<'original' | 'enhanced', Record<Outcome, AckCode>> = {
  // Original mode has no "try again" code; HL7 v2.5.1 §2.9.2 uses AR for failures unrelated to content (system down).
  original: { ok: 'AA', error: 'AE', reject: 'AR', 'retry-later': 'AR' },
  enhanced: { ok: 'CA', error: 'CE', reject: 'CR', 'retry-later': 'CE' },
};

let ackCounter = 0;
/** MSH-10 of our ACKs: unique per process and within the 20 characters v2.5 allows. */
function ackControlId(): string {
  ackCounter = (ackCounter + 1) % 1_679_616;
  return `LS${Date.now().toString(36)}${ackCounter.toString(36).padStart(4, '0')}`.slice(0, 20);
}

/** Whitespace between frames (a trailing LF after <FS><CR>) is common and harmless; anything else is worth a warning. */
function describeGarbage(head: Buffer): { harmless: boolean; looksLike: string } {
  const text = head.toString('latin1');
  if (/^[\s\0]*$/.test(text)) return { harmless: true, looksLike: 'whitespace' };
  // Never log the bytes themselves: a stray unframed message carries patient data.
  if (/^\s*MSH/.test(text)) return { harmless: false, looksLike: 'an HL7 message without MLLP start block' };
  if (/^(GET|POST|HEAD|PUT|OPTIONS) /.test(text)) return { harmless: false, looksLike: 'an HTTP request' };
  if (head[0] === 0x16) return { harmless: false, looksLike: 'a TLS handshake (the sender uses TLS, this port does not)' };
  return { harmless: false, looksLike: 'unrecognised bytes' };
}

/**
 * HL7 v2 over MLLP, inbound. Each frame is stored through ctx.accept before its ACK is written, so an AA means the
 * message is durable. Frames of one connection are stored concurrently but acknowledged in arrival order, as a
 * pipelining sender matches ACKs by position as often as by MSA-2.
 */
export interface MllpListenerDeps {
  log?: Log;
  /**
   * With ackTiming after-processing: what is wrong with a message the channel could not process, for the AE's ERR
   * (segment, field, plain words). Channels pass their mapping, which is pure, so asking it again gives the same answer.
   */
  reasonFor?: (message: string) => AckError | undefined;
}

export function mllpListener(options: MllpListenerOptions, deps: MllpListenerDeps = {}): MllpListener {
  const o = mllpListenerSchema.parse(options);
  let server: net.Server | undefined;
  let boundPort = 0;
  const sockets = new Set<net.Socket>();
  const pending = new Set<Promise<unknown>>();

  function handleConnection(socket: net.Socket, ctx: SourceContext, log: Log): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const meta = { channel: ctx.channelId, remote };
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const decoder = new FrameDecoder(o.maxFrameBytes);
    let chain: Promise<unknown> = Promise.resolve();
    let inFlight = 0;

    const reply = (ack: Promise<Buffer | undefined>) => {
      inFlight += 1;
      if (inFlight >= o.maxInFlight) socket.pause();
      const settled = chain.then(() => ack).then((bytes) => {
        if (bytes && !socket.destroyed) socket.write(encodeFrame(bytes));
      }).catch((err) => log.error('could not acknowledge a frame', { ...meta, error: (err as Error).message }))
        .finally(() => {
          inFlight -= 1;
          pending.delete(settled);
          if (inFlight < o.maxInFlight && !socket.destroyed) socket.resume();
        });
      pending.add(settled);
      chain = settled;
    };

    const onEvent = (ev: FrameEvent) => {
      if (ev.kind === 'frame') reply(handleFrame(ev.payload, ctx, log, meta));
      else if (ev.kind === 'oversize') reply(Promise.resolve(refuseOversize(ev.length, ev.head, log, meta)));
      else {
        const { harmless, looksLike } = describeGarbage(ev.head);
        (harmless ? log.debug : log.warn).call(log, 'bytes outside an MLLP frame skipped', { ...meta, bytes: ev.length, looksLike });
      }
    };

    socket.on('data', (chunk: Buffer) => decoder.push(chunk).forEach(onEvent));
    socket.on('error', (err) => log.info('MLLP connection error', { ...meta, error: err.message }));
    socket.on('close', () => {
      sockets.delete(socket);
      decoder.flush().forEach(onEvent);
      // The sender got no ACK for a half-received frame, so it will send it again; nothing is lost.
      if (decoder.buffered) log.warn('MLLP connection closed inside a frame; partial frame discarded', { ...meta, bytes: decoder.buffered });
    });
  }

  function answer(msh: MshHeader | undefined, outcome: Outcome, charset: string, error?: AckError): Buffer | undefined {
    const code = CODES[o.ackMode][outcome];
    if (o.ackMode === 'enhanced' && msh) {
      const wanted = msh.acceptAckType || 'AL';
      if (wanted === 'NE' || (wanted === 'ER' && outcome === 'ok') || (wanted === 'SU' && outcome !== 'ok')) return undefined;
    }
    return encodeMessage(buildAck({ msh, code, controlId: ackControlId(), error }), charset);
  }

  async function handleFrame(payload: Buffer, ctx: SourceContext, log: Log, meta: object): Promise<Buffer | undefined> {
    const decoded = decodeMessage(payload, o.charset);
    if (decoded.unknownDeclaration) log.warn('MSH-18 names an unknown charset; decoded by content', { ...meta, msh18: decoded.unknownDeclaration.slice(0, 40), charset: decoded.charset });
    let msh: MshHeader;
    try {
      msh = readMsh(decoded.text);
    } catch (err) {
      const e = err as Hl7HeaderError;
      log.warn('HL7 message refused: unreadable header', { ...meta, bytes: payload.length, error: e.message });
      const refusal: AckError = { segment: e.segment ?? 'MSH', field: e.field, code: e.code ?? '100', text: e.message };
      // When the ACK reports processing, a message whose header can still be answered (MSH-9 or MSH-10 empty) is kept
      // too, so that the operator finds what the sender sent in the message search, with the channel's verdict.
      if (o.ackTiming === 'after-processing' && e.partial && ctx.accepting()) {
        try {
          await ctx.accept({ content: decoded.text, contentType: 'application/hl7-v2', encoding: decoded.charset, correlationId: e.partial.controlId || undefined });
        } catch (storeErr) {
          log.error('refused HL7 message not stored', { ...meta, error: (storeErr as Error).message });
        }
      }
      return answer(e.partial, 'reject', decoded.charset, refusal);
    }
    const about = { ...meta, controlId: msh.controlId, type: `${msh.messageCode}^${msh.triggerEvent}` };
    if (!ctx.accepting()) {
      log.warn('HL7 message refused: channel paused', about);
      return answer(msh, 'retry-later', decoded.charset, { segment: 'MSH', code: '207', text: `通道 ${ctx.channelId} 已暂停 (channel paused); send the message again later` });
    }
    let result: AcceptResult;
    try {
      result = await ctx.accept({ content: decoded.text, contentType: 'application/hl7-v2', encoding: decoded.charset, correlationId: msh.controlId });
    } catch (err) {
      log.error('HL7 message not stored', { ...about, error: (err as Error).message });
      return answer(msh, 'retry-later', decoded.charset, { segment: 'MSH', code: '207', text: 'the message could not be stored; send it again later' });
    }
    if (o.ackTiming === 'after-processing' && o.ackMode === 'original' && result.status === 'error') {
      const kept = `it is kept as ${result.messageId} for reprocessing`;
      const reason = deps.reasonFor?.(decoded.text);
      return answer(msh, 'error', decoded.charset, reason
        ? { ...reason, text: `${reason.text}; ${kept}` }
        : { segment: 'MSH', code: '207', text: `the channel could not process the message; ${kept}` });
    }
    return answer(msh, 'ok', decoded.charset);
  }

  function refuseOversize(length: number, head: Buffer, log: Log, meta: object): Buffer | undefined {
    const decoded = decodeMessage(head, o.charset);
    let msh: MshHeader | undefined;
    try {
      msh = readMsh(decoded.text);
    } catch (err) {
      msh = (err as Hl7HeaderError).partial;
    }
    log.warn('HL7 message refused: frame over the size limit', { ...meta, bytes: length, limit: o.maxFrameBytes, controlId: msh?.controlId });
    return answer(msh, 'reject', decoded.charset, { segment: 'MSH', code: '207', text: `message of ${length} bytes is over this listener's limit of ${o.maxFrameBytes} bytes` });
  }

  return {
    type: 'mllp',
    get port() {
      return boundPort;
    },
    async start(ctx: SourceContext) {
      const log = deps.log ?? childLogger({ component: 'mllp-listener', channel: ctx.channelId });
      const onSocket = (socket: net.Socket) => handleConnection(socket, ctx, log);
      server = o.tls
        ? tls.createServer({
          cert: fs.readFileSync(o.tls.certFile),
          key: fs.readFileSync(o.tls.keyFile),
          ca: o.tls.caFile ? fs.readFileSync(o.tls.caFile) : undefined,
          requestCert: o.tls.requireClientCert,
          rejectUnauthorized: o.tls.requireClientCert,
        }, onSocket)
        : net.createServer(onSocket);
      server.maxConnections = o.maxConnections;
      server.on('tlsClientError', (err: Error) => log.warn('TLS handshake failed', { channel: ctx.channelId, error: err.message }));
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(o.port, o.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.on('error', (err) => log.error('MLLP listener error', { channel: ctx.channelId, error: err.message }));
      boundPort = (s.address() as net.AddressInfo).port;
      log.info('MLLP listener started', { channel: ctx.channelId, port: boundPort, tls: Boolean(o.tls), charset: o.charset, ackTiming: o.ackTiming, ackMode: o.ackMode });
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      // Let the frames already being stored get their ACK before the connections go.
      await Promise.allSettled([...pending]);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
