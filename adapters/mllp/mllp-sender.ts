import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import type { DestinationConnector, OutboundMessage } from '../../engine/channel/channel';
import { charsetFromMsh18, decodeMessage, encodeMessage, isKnownCharset } from './hl7-charset';
import { readAck, readMsh } from './hl7-header';
import { encodeFrame, FrameDecoder } from './mllp-framing';

export const mllpSenderSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  /** Charset of the bytes sent; 'auto' follows the outgoing message's MSH-18 (UTF-8 when it names none). */
  charset: z.string().default('utf-8').refine(isKnownCharset, 'an iconv-lite charset name (utf-8, gb18030, gbk …) or auto'),
  ackTimeoutMs: z.number().int().positive().default(30_000),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** Many HIS/LIS MLLP receivers take one connection only, so one is the default; more only for peers that allow it. */
  connections: z.number().int().positive().default(1),
  maxReplyBytes: z.number().int().positive().default(1024 * 1024),
  tls: z.object({
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    servername: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
  }).strict().optional(),
}).strict();

export type MllpSenderOptions = z.input<typeof mllpSenderSchema>;

/** One TCP (or TLS) connection carrying one message and its ACK at a time, as MLLP requires. */
class MllpConnection {
  private readonly decoder: FrameDecoder;
  private waiting?: { resolve(reply: Buffer): void; reject(err: Error): void };
  closed = false;

  private constructor(private readonly socket: net.Socket, private readonly peer: string, maxReplyBytes: number) {
    this.decoder = new FrameDecoder(maxReplyBytes);
    socket.on('data', (chunk: Buffer) => {
      for (const ev of [...this.decoder.push(chunk), ...this.decoder.flush()]) {
        if (ev.kind === 'frame') this.settle(undefined, ev.payload);
        else if (ev.kind === 'oversize') this.fail(new Error(`malformed reply from ${peer}: a frame of ${ev.length} bytes, over the ${maxReplyBytes}-byte limit`));
        else if (!/^\s*$/.test(ev.head.toString('latin1'))) this.fail(new Error(`malformed reply from ${peer}: ${ev.length} bytes outside an MLLP frame`));
      }
    });
    socket.on('error', (err) => this.fail(new Error(`MLLP connection to ${peer} failed: ${err.message}`)));
    socket.on('close', () => this.fail(new Error(`MLLP connection to ${peer} closed before an ACK arrived`)));
  }

  static open(o: z.infer<typeof mllpSenderSchema>): Promise<MllpConnection> {
    const peer = `${o.host}:${o.port}`;
    return new Promise((resolve, reject) => {
      const socket = o.tls
        ? tls.connect({
          host: o.host, port: o.port, servername: o.tls.servername ?? (net.isIP(o.host) ? undefined : o.host),
          ca: o.tls.caFile ? fs.readFileSync(o.tls.caFile) : undefined,
          cert: o.tls.certFile ? fs.readFileSync(o.tls.certFile) : undefined,
          key: o.tls.keyFile ? fs.readFileSync(o.tls.keyFile) : undefined,
          rejectUnauthorized: o.tls.rejectUnauthorized,
        })
        : net.connect({ host: o.host, port: o.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`MLLP connect to ${peer} timed out after ${o.connectTimeoutMs} ms`));
      }, o.connectTimeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`MLLP connect to ${peer} failed: ${err.message}`));
      });
      socket.once(o.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        // Firewalls between hospital networks drop idle TCP sessions silently; keep-alive probes notice it.
        socket.setKeepAlive(true, 30_000);
        resolve(new MllpConnection(socket, peer, o.maxReplyBytes));
      });
    });
  }

  exchange(frame: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error(`MLLP connection to ${this.peer} is closed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late ACK would be read as the next message's: the connection is not reusable.
        this.fail(new Error(`no ACK from ${this.peer} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (reply) => { clearTimeout(timer); resolve(reply); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      this.socket.write(frame);
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private settle(err: Error | undefined, reply?: Buffer): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (!w) {
      // Bytes nobody asked for (an unsolicited frame, a close while idle): this connection is out of step.
      this.destroy();
      return;
    }
    if (err) w.reject(err);
    else w.resolve(reply!);
  }

  private fail(err: Error): void {
    this.destroy();
    this.settle(err);
  }
}

/**
 * HL7 v2 over MLLP, outbound. Waits for the peer's ACK: AA/CA is delivery; AE/AR/CE/CR, a timeout, a refused
 * connection or a reply that is no ACK for this message throw, so the destination queue's retry policy takes over.
 * Connections stay open between messages and are opened again after any failure.
 */
export function mllpSender(options: MllpSenderOptions): DestinationConnector {
  const o = mllpSenderSchema.parse(options);
  const peer = `${o.host}:${o.port}`;
  const idle: MllpConnection[] = [];
  const waiters: ((c: MllpConnection | undefined) => void)[] = [];
  let open = 0;
  let stopped = false;

  async function acquire(): Promise<MllpConnection> {
    if (stopped) throw new Error(`MLLP sender to ${peer} is stopped`);
    for (;;) {
      const c = idle.pop();
      if (!c) break;
      if (!c.closed) return c;
      open -= 1;
    }
    if (open < o.connections) {
      open += 1;
      try {
        return await MllpConnection.open(o);
      } catch (err) {
        open -= 1;
        throw err;
      }
    }
    const handed = await new Promise<MllpConnection | undefined>((resolve) => waiters.push(resolve));
    return handed ?? acquire();
  }

  function release(c: MllpConnection): void {
    if (stopped) {
      c.destroy();
      return;
    }
    if (c.closed) {
      open -= 1;
      waiters.shift()?.(undefined);
      return;
    }
    const waiter = waiters.shift();
    if (waiter) waiter(c);
    else idle.push(c);
  }

  return {
    type: 'mllp',
    async send(m: OutboundMessage) {
      // HL7 v2 ends segments with CR; transformers and files written on other systems often produce LF.
      const text = m.content.replace(/\r\n|\n/g, '\r');
      const msh = readMsh(text);
      const charset = o.charset === 'auto' ? charsetFromMsh18(msh.characterSet) ?? 'utf-8' : o.charset;
      const conn = await acquire();
      try {
        const reply = await conn.exchange(encodeFrame(encodeMessage(text, charset)), o.ackTimeoutMs);
        const replyText = decodeMessage(reply, 'auto').text;
        const ack = readAck(replyText);
        if (!ack) {
          conn.destroy();
          throw new Error(`malformed reply from ${peer}: not an HL7 acknowledgement (${reply.length} bytes)`);
        }
        if (ack.controlId !== msh.controlId) {
          conn.destroy();
          throw new Error(`malformed reply from ${peer}: MSA-2 acknowledges ${ack.controlId || '(empty)'}, not ${msh.controlId}`);
        }
        if (ack.code === 'AA' || ack.code === 'CA') return { response: replyText };
        throw new Error(`${peer} answered ${ack.code}${ack.text ? `: ${ack.text}` : ''}`);
      } finally {
        release(conn);
      }
    },
    async start() {
      stopped = false;
    },
    async stop() {
      stopped = true;
      for (const c of idle.splice(0)) c.destroy();
      for (const w of waiters.splice(0)) w(undefined);
      open = 0;
    },
  };
}
