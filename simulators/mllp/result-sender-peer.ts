import { isUtf8 } from 'node:buffer';
import express, { Router } from 'express';
import iconv from 'iconv-lite';
import type { SimulatedPeer } from '../peer';
import { readAckWithLibrary, readHeaderWithLibrary, ReceivedAck } from './hl7-ack-reader';
import { MllpClient } from './mllp-client';
import { MllpServer, startMllpServer, MllpAnswer } from './mllp-server';
import { hl7Timestamp, SIM_PATIENTS, SimPatient } from './oru-message';

export interface ResultSenderConfig {
  /** Where results go: Lingshu's MLLP listener for this peer. */
  target: { host: string; port: number };
  /** 'utf-8' or 'gbk' (sent as GB18030 bytes, which GBK text is a subset of). */
  charset: 'utf-8' | 'gbk';
  /** Port of the peer's own MLLP listener for orders (0 = any free port). */
  ordersPort: number;
}

export interface ResultRequest {
  patient?: Partial<SimPatient>;
  charset?: 'utf-8' | 'gbk';
  /** Peer-specific knobs (which report, which values). */
  variant?: string;
}

export interface ResultSenderSpec {
  name: string;
  description: string;
  /** MSH-3 and the control id prefix. */
  application: string;
  /** Builds one ORU^R01 (as text; the peer encodes it). */
  build(controlId: string, patient: SimPatient, request: ResultRequest, msh18: string): string;
}

interface SentResult {
  controlId: string;
  charset: string;
  ack?: ReceivedAck;
  error?: string;
}

type FailMode = 'AE' | 'silence' | 'garbage';

/**
 * A system that sends results over MLLP (LIS, PACS …) and takes orders on its own MLLP port. Control routes:
 * POST results (send; body { count, charset, patient, variant }), GET results (what was sent and the ACK each got),
 * PUT target ({ host, port }), GET orders (messages received), POST fail ({ mode: AE|silence|garbage, times }).
 */
export function resultSenderPeer(spec: ResultSenderSpec, config: ResultSenderConfig): SimulatedPeer {
  const target = { ...config.target };
  const sent: SentResult[] = [];
  const orders: { controlId: string; type: string; receivedAt: string }[] = [];
  const failures: { mode: FailMode; left: number } = { mode: 'AE', left: 0 };
  let server: MllpServer | undefined;
  let client: MllpClient | undefined;
  let sequence = 0;
  let sending: Promise<unknown> = Promise.resolve();

  async function connection(): Promise<MllpClient> {
    client ??= await MllpClient.connect(target);
    return client;
  }

  async function sendOne(request: ResultRequest): Promise<SentResult> {
    sequence += 1;
    const controlId = `${spec.application}${hl7Timestamp(new Date()).slice(0, 8)}${String(sequence).padStart(5, '0')}`;
    const patient = { ...SIM_PATIENTS[sequence % SIM_PATIENTS.length], ...request.patient };
    const charset = request.charset ?? config.charset;
    const msh18 = charset === 'gbk' ? 'GBK' : 'UNICODE UTF-8';
    const text = spec.build(controlId, patient, request, msh18);
    const bytes = charset === 'gbk' ? iconv.encode(text, 'gb18030') : Buffer.from(text, 'utf8');
    const result: SentResult = { controlId, charset };
    try {
      const reply = await (await connection()).send(bytes);
      result.ack = readAckWithLibrary(iconv.decode(reply, charset === 'gbk' ? 'gb18030' : 'utf8'));
      if (!result.ack) result.error = 'reply is not an HL7 acknowledgement';
    } catch (err) {
      client?.close();
      client = undefined;
      result.error = (err as Error).message;
    }
    sent.push(result);
    return result;
  }

  function answerOrder(payload: Buffer): MllpAnswer {
    const text = iconv.decode(payload, isUtf8(payload) ? 'utf8' : 'gb18030');
    const h = readHeaderWithLibrary(text);
    orders.push({ controlId: h?.controlId ?? '', type: h?.type ?? '', receivedAt: new Date().toISOString() });
    if (failures.left > 0) {
      failures.left -= 1;
      if (failures.mode === 'silence') return { silence: true };
      if (failures.mode === 'garbage') return { raw: Buffer.from('HTTP/1.1 500 Internal Server Error\r\n\r\n') };
      return { reply: Buffer.from(ack(h, 'AE', '模拟故障 (simulated failure)'), 'utf8') };
    }
    return { reply: Buffer.from(ack(h, 'AA'), 'utf8') };
  }

  function ack(h: ReturnType<typeof readHeaderWithLibrary>, code: string, note = ''): string {
    return [
      `MSH|^~\\&|${spec.application}|${spec.name.toUpperCase()}|${h?.sendingApplication ?? ''}|${h?.sendingFacility ?? ''}|${hl7Timestamp(new Date())}||ACK|ACK${h?.controlId ?? ''}|P|${h?.version ?? '2.4'}`,
      `MSA|${code}|${h?.controlId ?? ''}|${note}`,
    ].join('\r') + '\r';
  }

  return {
    name: spec.name,
    description: spec.description,
    async start() {
      server = await startMllpServer(config.ordersPort, (payload) => answerOrder(payload));
      return { mllp: server.port };
    },
    control(): Router {
      const r = express.Router();
      r.use(express.json());
      r.get('/', (_req, res) => {
        res.json({ name: spec.name, target, charset: config.charset, sent: sent.length, orders: orders.length });
      });
      r.put('/target', (req, res) => {
        const { host, port } = req.body ?? {};
        if (typeof port !== 'number') {
          res.status(400).json({ error: 'body { host, port } with a numeric port' });
          return;
        }
        target.host = typeof host === 'string' ? host : target.host;
        target.port = port;
        client?.close();
        client = undefined;
        res.json({ target });
      });
      r.post('/results', async (req, res) => {
        const body = (req.body ?? {}) as ResultRequest & { count?: number };
        const count = Math.min(Math.max(Number(body.count ?? 1), 1), 1000);
        // One connection, one message at a time: what a LIS does, and what keeps ACKs matched to messages.
        const run = sending.then(async () => {
          const out: SentResult[] = [];
          for (let i = 0; i < count; i++) out.push(await sendOne(body));
          return out;
        });
        sending = run.catch(() => undefined);
        res.json({ sent: await run });
      });
      r.get('/results', (_req, res) => {
        res.json({ sent });
      });
      r.get('/orders', (_req, res) => {
        res.json({ orders });
      });
      r.post('/fail', (req, res) => {
        const mode = String(req.body?.mode ?? 'AE') as FailMode;
        if (!['AE', 'silence', 'garbage'].includes(mode)) {
          res.status(400).json({ error: 'mode is AE, silence or garbage' });
          return;
        }
        failures.mode = mode;
        failures.left = Math.max(Number(req.body?.times ?? 1), 0);
        res.json(failures);
      });
      return r;
    },
    async stop() {
      client?.close();
      client = undefined;
      await server?.close();
      server = undefined;
    },
  };
}
