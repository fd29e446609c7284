import { Writable } from 'node:stream';
import iconv from 'iconv-lite';
import { mllpListener, MllpListener, MllpListenerOptions } from '../../../adapters/mllp/mllp-listener';
import { channel, DestinationConnector } from '../../../engine/channel/channel';
import { createLogger } from '../../../engine/logger';
import { readAckWithLibrary } from '../../../simulators/mllp/hl7-ack-reader';
import { MllpClient } from '../../../simulators/mllp/mllp-client';
import { frame } from '../../../simulators/mllp/mllp-wire';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';
import { hl7Fixture, withControlId } from '../../support/hl7-fixtures';

const sink = (): DestinationConnector => ({ type: 'sink', send: async (m) => ({ response: `kept ${m.messageId}` }) });
const cbc = hl7Fixture('oru-cbc-utf8.hl7').toString('utf8');
const ackOf = (reply: Buffer) => readAckWithLibrary(iconv.decode(reply, 'utf8'));

async function listening(stack: (typeof STACKS)[number], options: Omit<MllpListenerOptions, 'port'> = {}, log?: ReturnType<typeof createLogger>) {
  const listener = mllpListener({ port: 0, host: '127.0.0.1', ...options }, { log });
  const server = await startTestServer(stack, () => [channel({ id: 'lab', source: listener, destinations: [{ name: 'keep', connector: sink() }] })]);
  return { server, listener };
}

async function storedRaw(server: TestServer, controlId: string): Promise<string> {
  const found = await eventually(async () => (await server.store.search({ channel: 'lab', correlationId: controlId })).messages[0]);
  return (await server.store.get(found.id))!.raw;
}

/** Splits a byte stream into writes of ever-changing sizes: single bytes, odd cuts, and runs of whole frames. */
function* chunks(stream: Buffer, seed: number): Generator<Buffer> {
  const sizes = [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987];
  let at = 0;
  for (let n = seed; at < stream.length; n++) {
    const size = sizes[n % sizes.length] * (n % 7 === 0 ? 4 : 1);
    yield stream.subarray(at, at + size);
    at += size;
  }
}

describe.each(STACKS.slice(0, 2))('MLLP listener throughput on $name', (stack) => {
  let server: TestServer;
  let listener: MllpListener;
  beforeAll(async () => ({ server, listener } = await listening(stack)));
  afterAll(async () => server?.cleanup());

  it('acknowledges and stores 1,000 messages sent over 5 connections in arbitrarily split and coalesced writes', async () => {
    const perConnection = 200;
    const results = await Promise.all([0, 1, 2, 3, 4].map(async (c) => {
      const ids = Array.from({ length: perConnection }, (_, i) => `C${c}M${String(i).padStart(4, '0')}`);
      const stream = Buffer.concat(ids.map((id) => frame(Buffer.from(withControlId(cbc, id)))));
      const client = await MllpClient.connect({ host: '127.0.0.1', port: listener.port });
      const replies = client.next(perConnection);
      let n = 0;
      for (const piece of chunks(stream, c)) {
        client.write(piece);
        // Yield now and then so that pieces leave as separate TCP segments instead of one coalesced write.
        if (++n % 3 === 0) await new Promise((r) => setImmediate(r));
      }
      const acks = (await replies).map(ackOf);
      client.close();
      return { ids, acks };
    }));
    for (const { ids, acks } of results) {
      expect(acks.map((a) => a?.code)).toEqual(ids.map(() => 'AA'));
      expect(acks.map((a) => a?.controlId)).toEqual(ids);
    }
    const counts = (await server.store.counts()).find((c) => c.channelId === 'lab');
    expect(counts?.received).toBe(1000);
  });
});

describe('MLLP listener on SQLite + in-process bus', () => {
  const stack = STACKS[0];
  const lines: string[] = [];
  const log = createLogger({ level: 'info', stream: new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }) });
  let server: TestServer;
  let listener: MllpListener;
  let client: MllpClient;
  beforeAll(async () => {
    ({ server, listener } = await listening(stack, { maxFrameBytes: 64 * 1024 }, log));
  });
  beforeEach(async () => {
    client = await MllpClient.connect({ host: '127.0.0.1', port: listener.port });
  });
  afterEach(() => client.close());
  afterAll(async () => server?.cleanup());

  it('stores a GBK message without MSH-18 as correct Chinese text and acknowledges it', async () => {
    const bytes = hl7Fixture('oru-cbc-gbk.hl7');
    const ack = ackOf(await client.send(bytes));
    expect(ack).toMatchObject({ code: 'AA', controlId: 'LIS202511250002' });
    const raw = await storedRaw(server, 'LIS202511250002');
    expect(raw).toContain('王小明^WANG XIAO MING');
    expect(raw).toContain('HGB^血红蛋白^L||98|g/L|130-175|L');
    expect(raw).toBe(iconv.decode(bytes, 'gb18030'));
  });

  it('decodes a message as MSH-18 declares it (GBK)', async () => {
    await client.send(hl7Fixture('adt-a01-gbk.hl7'));
    expect(await storedRaw(server, 'HIS202511250032')).toContain('DG1|1||D64.900^贫血^ICD-10');
  });

  it('refuses a frame over the size limit with a NAK naming its control id and keeps the connection usable', async () => {
    const huge = withControlId(cbc, 'HUGE0001') + `NTE|1|L|${'很长的备注'.repeat(10_000)}\r`;
    const nak = ackOf(await client.send(Buffer.from(huge)));
    expect(nak?.code).toBe('AR');
    expect(nak?.controlId).toBe('HUGE0001');
    expect(nak?.text).toMatch(/over this listener's limit of 65536 bytes/);
    const next = ackOf(await client.send(Buffer.from(withControlId(cbc, 'AFTERHUGE'))));
    expect(next).toMatchObject({ code: 'AA', controlId: 'AFTERHUGE' });
    expect((await server.store.search({ channel: 'lab', correlationId: 'HUGE0001' })).messages).toHaveLength(0);
  });

  it('skips and logs garbage between frames and stores the frames around it', async () => {
    lines.length = 0;
    client.write(Buffer.concat([
      frame(Buffer.from(withControlId(cbc, 'BEFOREJUNK'))),
      Buffer.from(withControlId(cbc, 'UNFRAMED')),
      frame(Buffer.from(withControlId(cbc, 'AFTERJUNK'))),
    ]));
    const acks = (await client.next(2)).map(ackOf);
    expect(acks.map((a) => a?.controlId)).toEqual(['BEFOREJUNK', 'AFTERJUNK']);
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'bytes outside an MLLP frame skipped');
    expect(warning).toMatchObject({ level: 'warn', channel: 'lab', bytes: Buffer.byteLength(withControlId(cbc, 'UNFRAMED')), looksLike: 'an HL7 message without MLLP start block' });
    expect(lines.join('')).not.toContain('王小明');
  });

  it('answers AR with an ERR naming MSH-10 when the control id is missing', async () => {
    const reply = iconv.decode(await client.send(Buffer.from(withControlId(cbc, ''))), 'utf8');
    expect(readAckWithLibrary(reply)?.code).toBe('AR');
    // v2.4 message: the error is in ERR-1 (segment^sequence^field^code), as that version reads it.
    expect(reply).toMatch(/\rERR\|MSH\^1\^10\^101&Required field missing&HL70357\r$/);
  });

  it('answers a v2.5 message with ERR-2/ERR-3 on error and echoes its MSH-18 in the ACK', async () => {
    const v25 = withControlId(cbc, '').replace('|P|2.4|', '|P|2.5|');
    const reply = iconv.decode(await client.send(Buffer.from(v25)), 'utf8');
    expect(reply.split('\r')[0]).toMatch(/^MSH\|\^~\\&\|LINGSHU\|桃源院区\|LIS\|桃源院区检验科\|\d{14}\|\|ACK\^R01\^ACK\|\w+\|P\|2\.5\|\|\|\|\|CHN\|UNICODE UTF-8$/);
    expect(reply).toContain('\rERR||MSH^1^10|101^Required field missing^HL70357|E||||MSH-10 (message control id) is empty\r');
  });
});

describe('MLLP listener acknowledgement modes', () => {
  const stack = STACKS[0];
  let server: TestServer;
  const listeners: Record<string, MllpListener> = {};
  beforeAll(async () => {
    listeners.enhanced = mllpListener({ port: 0, host: '127.0.0.1', ackMode: 'enhanced' });
    listeners.processing = mllpListener({ port: 0, host: '127.0.0.1', ackTiming: 'after-processing' });
    listeners.store = mllpListener({ port: 0, host: '127.0.0.1' });
    const failing = () => { throw new Error('OBX-5 is not a number'); };
    server = await startTestServer(stack, () => [
      channel({ id: 'enhanced', source: listeners.enhanced, destinations: [{ name: 'keep', connector: sink() }] }),
      channel({ id: 'processing', source: listeners.processing, transformer: failing, destinations: [{ name: 'keep', connector: sink() }] }),
      channel({ id: 'store', source: listeners.store, transformer: failing, destinations: [{ name: 'keep', connector: sink() }] }),
    ]);
  });
  afterAll(async () => server?.cleanup());

  const exchange = async (name: string, message: string) => {
    const client = await MllpClient.connect({ host: '127.0.0.1', port: listeners[name].port });
    try {
      return ackOf(await client.send(Buffer.from(message)));
    } finally {
      client.close();
    }
  };

  it('answers a commit acknowledgement CA in enhanced mode', async () => {
    expect(await exchange('enhanced', withControlId(cbc, 'ENH1'))).toMatchObject({ code: 'CA', controlId: 'ENH1' });
  });

  it('sends no acknowledgement in enhanced mode when MSH-15 is NE, and still stores the message', async () => {
    const client = await MllpClient.connect({ host: '127.0.0.1', port: listeners.enhanced.port });
    client.write(frame(Buffer.from(withControlId(cbc, 'ENH-NE').replace('|||AL|NE|', '|||NE|NE|'))));
    client.write(frame(Buffer.from(withControlId(cbc, 'ENH-AL'))));
    const [only] = (await client.next(1)).map(ackOf);
    client.close();
    expect(only?.controlId).toBe('ENH-AL');
    await eventually(async () => (await server.store.search({ channel: 'enhanced', correlationId: 'ENH-NE' })).messages.length === 1);
  });

  it('answers AE after processing when the transformer fails', async () => {
    const ack = await exchange('processing', withControlId(cbc, 'PROC1'));
    expect(ack?.code).toBe('AE');
    expect(ack?.text).toMatch(/could not process the message; it is kept as [0-9a-f-]{36} for reprocessing/);
  });

  it('answers AA after store even when the transformer fails, keeping the message for reprocessing', async () => {
    expect((await exchange('store', withControlId(cbc, 'STORE1')))?.code).toBe('AA');
    const [m] = (await server.store.search({ channel: 'store', correlationId: 'STORE1' })).messages;
    expect(m.status).toBe('error');
  });
});
