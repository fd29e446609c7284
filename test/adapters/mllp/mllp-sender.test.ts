import net from 'node:net';
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import request from 'supertest';
import { httpSource } from '../../../adapters/http/http-source';
import { mllpSender } from '../../../adapters/mllp/mllp-sender';
import { channel } from '../../../engine/channel/channel';
import { readHeaderWithLibrary } from '../../../simulators/mllp/hl7-ack-reader';
import { MllpAnswer, MllpServer, startMllpServer } from '../../../simulators/mllp/mllp-server';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';
import { hl7Fixture, withControlId } from '../../support/hl7-fixtures';

const adt = hl7Fixture('adt-a01-utf8.hl7').toString('utf8');
const retry = { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50, multiplier: 2, jitter: 0, concurrency: 1 };

function ack(controlId: string, code: string, text = ''): MllpAnswer {
  return { reply: Buffer.from(`MSH|^~\\&|HIS|桃源院区|LINGSHU|桃源院区|20251125120000||ACK^A01^ACK|R${controlId}|P|2.4\rMSA|${code}|${controlId}|${text}\r`) };
}

/** A HIS that answers by the message's control id: how a test tells it to misbehave. */
function scriptedHis(received: { controlId: string; text: string }[]) {
  const dropped = new Set<string>();
  return (payload: Buffer): MllpAnswer => {
    const text = iconv.decode(payload, isUtf8(payload) ? 'utf8' : 'gb18030');
    const id = readHeaderWithLibrary(text)?.controlId ?? '';
    received.push({ controlId: id, text });
    if (id.startsWith('SILENT')) return { silence: true };
    if (id.startsWith('AE')) return ack(id, 'AE', '患者不存在 (patient not found)');
    if (id.startsWith('JUNK')) return { raw: Buffer.from('HTTP/1.1 500 Internal Server Error\r\n\r\n') };
    if (id.startsWith('WRONGID')) return ack('SOMETHING-ELSE', 'AA');
    if (id.startsWith('DROP') && !dropped.has(id)) {
      dropped.add(id);
      return { close: true };
    }
    return ack(id, 'AA');
  };
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('MLLP sender on SQLite + in-process bus', () => {
  let server: TestServer;
  let his: MllpServer;
  const received: { controlId: string; text: string }[] = [];

  beforeAll(async () => {
    his = await startMllpServer(0, scriptedHis(received));
    const refused = await closedPort();
    server = await startTestServer(STACKS[0], () => [
      channel({ id: 'to-his', source: httpSource(), destinations: [{ name: 'his', connector: mllpSender({ host: '127.0.0.1', port: his.port, ackTimeoutMs: 10_000 }), queue: retry }] }),
      channel({ id: 'to-his-gbk', source: httpSource(), destinations: [{ name: 'his', connector: mllpSender({ host: '127.0.0.1', port: his.port, charset: 'gb18030' }), queue: retry }] }),
      channel({ id: 'to-slow-his', source: httpSource(), destinations: [{ name: 'his', connector: mllpSender({ host: '127.0.0.1', port: his.port, ackTimeoutMs: 200 }), queue: retry }] }),
      channel({ id: 'to-nobody', source: httpSource(), destinations: [{ name: 'his', connector: mllpSender({ host: '127.0.0.1', port: refused }), queue: retry }] }),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    await his?.close();
  });

  async function post(channelId: string, controlId: string) {
    const res = await request(server.base).post(`/channels/${channelId}`).set('Content-Type', 'application/hl7-v2; charset=utf-8').send(withControlId(adt, controlId)).expect(202);
    return res.body.messageId as string;
  }

  async function settled(id: string) {
    return eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body;
      return (m.status === 'sent' || m.status === 'error') && m;
    });
  }

  it('delivers a message the peer acknowledges with AA and records the ACK as the response', async () => {
    const m = await settled(await post('to-his', 'OK0001'));
    expect(m.status).toBe('sent');
    expect(m.stages.find((s: { name: string }) => s.name === 'his').response).toContain('MSA|AA|OK0001');
  });

  it('sends in the configured charset, so a GBK peer reads correct Chinese', async () => {
    await settled(await post('to-his-gbk', 'GBK0001'));
    const got = received.find((r) => r.controlId === 'GBK0001');
    expect(got?.text).toContain('王小明^WANG XIAO MING');
  });

  it('records a missing ACK as a timeout error and retries it', async () => {
    const m = await settled(await post('to-slow-his', 'SILENT01'));
    expect(m.status).toBe('error');
    expect(m.errors.map((e: { error: string }) => e.error)).toEqual([1, 2].map(() => expect.stringMatching(/^no ACK from 127\.0\.0\.1:\d+ within 200 ms$/)));
    expect(received.filter((r) => r.controlId === 'SILENT01')).toHaveLength(2);
  });

  it('records a refused connection as an error and retries it', async () => {
    const m = await settled(await post('to-nobody', 'REFUSED1'));
    expect(m.status).toBe('error');
    expect(m.errors).toHaveLength(2);
    expect(m.errors[0].error).toMatch(/^MLLP connect to 127\.0\.0\.1:\d+ failed: connect ECONNREFUSED/);
  });

  it('records an AE reply with its text as an error and retries it', async () => {
    const m = await settled(await post('to-his', 'AE000001'));
    expect(m.status).toBe('error');
    expect(m.errors.map((e: { error: string }) => e.error)).toEqual([1, 2].map(() => expect.stringMatching(/answered AE: 患者不存在 \(patient not found\)$/)));
  });

  it('records a reply that is no MLLP frame as a malformed reply and retries it', async () => {
    const m = await settled(await post('to-his', 'JUNK0001'));
    expect(m.status).toBe('error');
    expect(m.errors).toHaveLength(2);
    expect(m.errors[0].error).toMatch(/^malformed reply from 127\.0\.0\.1:\d+: \d+ bytes outside an MLLP frame$/);
  });

  it('records an ACK for another message as a malformed reply', async () => {
    const m = await settled(await post('to-his', 'WRONGID1'));
    expect(m.errors[0].error).toMatch(/MSA-2 acknowledges SOMETHING-ELSE, not WRONGID1$/);
  });

  it('reconnects after the peer drops the connection and delivers on the retry', async () => {
    const m = await settled(await post('to-his', 'DROP0001'));
    expect(m.status).toBe('sent');
    expect(m.errors.map((e: { error: string }) => e.error)).toEqual([expect.stringMatching(/closed before an ACK arrived$/)]);
    const after = await settled(await post('to-his', 'OK0002'));
    expect(after.status).toBe('sent');
  });
});
