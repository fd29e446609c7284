/**
 * The clinical benchmark's load generator: MLLP connections that pipeline frames (up to `window` unacknowledged
 * per connection, as the listener allows) at an offered rate or as fast as the ACKs come back, and time each
 * message from the first byte written to its ACK. One global sequence decides the kind of every message, so the
 * mix holds whichever channel is slower; a message whose connection is full waits (and is counted as late).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { frame, FrameReader } from '../simulators/mllp/mllp-wire';
import { mixMessage, type MixKind } from './clinical-mix';

/** 6 ORU, 3 ADT, 1 ORM in every 10, interleaved. */
const PATTERN: MixKind[] = ['ORU', 'ADT', 'ORU', 'ORU', 'ADT', 'ORU', 'ORM', 'ORU', 'ADT', 'ORU'];

export interface Sent {
  kind: MixKind;
  controlId: string;
  /** Epoch ms (sub-ms) of the first byte written; comparable with the engine's Date.now() on the same machine. */
  wallSent: number;
  /** Behind schedule when written (rated runs), ms. */
  lateMs: number;
  ackMs?: number;
  ackCode?: string;
}

export interface LoadResult { sent: Sent[]; startedWall: number; seconds: number; lastAckWall: number; unanswered: number }

interface Connection { socket: net.Socket; reader: FrameReader; waiting: { sent: Sent; t0: number }[] }

function open(port: number, onAck: (c: Connection, ack: Buffer) => void): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(c);
    });
    const c: Connection = { socket, reader: new FrameReader(), waiting: [] };
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => c.reader.push(chunk).forEach((ack) => onAck(c, ack)));
  });
}

/** MSA-1 and MSA-2 of an ACK, read with indexOf: the generator must stay cheap beside the engine it loads. */
function msa(ack: Buffer): { code: string; controlId: string } {
  const text = ack.toString('latin1');
  const at = text.indexOf('\rMSA|');
  const f = text.slice(at + 5, text.indexOf('\r', at + 5)).split('|');
  return { code: f[0] ?? '', controlId: f[1] ?? '' };
}

export interface LoadOptions {
  /** lis-results (ORU) and his-patients-adt (ADT and ORM: the HIS sends both on its HL7 v2 interface). */
  ports: { lis: number; his: number };
  /** Messages per second over all connections, or 'max'. */
  offered: number | 'max';
  seconds: number;
  window: number;
  patients: number;
  run: string;
}

/** The four connections: two from the LIS (ORU), two from the HIS (ADT and ORM on the same connections). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const sent: Sent[] = [];
  let lastAck = 0;
  let pump = () => undefined as void;
  const onAck = (c: Connection, ack: Buffer) => {
    const now = performance.now();
    const head = c.waiting.shift();
    if (!head) return;
    const { code, controlId } = msa(ack);
    head.sent.ackMs = now - head.t0;
    // Acknowledgements come in order on a connection; one about another message would be a defect worth seeing.
    head.sent.ackCode = controlId === head.sent.controlId ? code : `mismatch:${code}`;
    lastAck = performance.timeOrigin + now;
    pump();
  };
  const lis = [await open(o.ports.lis, onAck), await open(o.ports.lis, onAck)];
  const his = [await open(o.ports.his, onAck), await open(o.ports.his, onAck)];
  const byKind: Record<MixKind, Connection[]> = { ORU: lis, ADT: his, ORM: his };
  const turn: Record<MixKind, number> = { ORU: 0, ADT: 0, ORM: 0 };
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let k = 0;
  let next: { kind: MixKind; conn: Connection } | undefined;
  pump = () => {
    for (;;) {
      const now = performance.now();
      if (now >= end) return;
      const due = o.offered === 'max' ? now : start + (k * 1000) / o.offered;
      if (due > now) return;
      if (!next) {
        const kind = PATTERN[k % PATTERN.length];
        const conns = byKind[kind];
        next = { kind, conn: conns[turn[kind]++ % conns.length] };
      }
      if (next.conn.waiting.length >= o.window) return;
      const m = mixMessage(next.kind, k, o.run, o.patients);
      const t0 = performance.now();
      const s: Sent = { kind: next.kind, controlId: m.controlId, wallSent: performance.timeOrigin + t0, lateMs: Math.max(0, t0 - due) };
      next.conn.waiting.push({ sent: s, t0 });
      next.conn.socket.write(frame(Buffer.from(m.text, 'utf8')));
      sent.push(s);
      next = undefined;
      k++;
    }
  };
  const ticker = setInterval(() => pump(), 1);
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  clearInterval(ticker);
  const all = [...lis, ...his];
  const until = Date.now() + 120_000;
  while (all.some((c) => c.waiting.length) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const unanswered = all.reduce((n, c) => n + c.waiting.length, 0);
  for (const c of all) c.socket.destroy();
  return { sent, startedWall: performance.timeOrigin + start, seconds: o.seconds, lastAckWall: lastAck, unanswered };
}
