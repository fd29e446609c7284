import request from 'supertest';
import { httpSender, HttpSenderOptions } from '../../../adapters/http/http-sender';
import { httpSource } from '../../../adapters/http/http-source';
import { channel } from '../../../engine/channel/channel';
import { freePort } from '../../support/engine-process';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';
import { ScriptedHttpPeer } from '../../support/scripted-http-peer';

const OK = { status: 200, body: '{"code":"0","msg":"成功"}' };
const retry = { maxAttempts: 30, initialDelayMs: 20, maxDelayMs: 100, multiplier: 2, jitter: 0, concurrency: 1 };

interface MessageView {
  status: string;
  stages: { name: string; status: string; attempts: number; response?: string }[];
  errors: { attempt: number; error: string }[];
}

describe('HTTP sender', () => {
  const peer = new ScriptedHttpPeer();
  let server: TestServer;
  let refusedPort: number;

  const dest = (id: string, options: HttpSenderOptions, queue: object = retry) =>
    channel({ id, source: httpSource(), destinations: [{ name: 'peer', connector: httpSender(options), queue }] });

  beforeAll(async () => {
    await peer.listen();
    refusedPort = await freePort();
    const url = (p: string) => `http://127.0.0.1:${peer.port}${p}`;
    server = await startTestServer(STACKS[0], () => [
      dest('slow', { url: url('/slow'), timeoutMs: 300 }),
      dest('refused', { url: `http://127.0.0.1:${refusedPort}/his`, timeoutMs: 2000, circuitBreaker: { consecutiveFailures: 1000 } }),
      dest('failing', { url: url('/failing') }),
      dest('malformed', { url: url('/malformed'), expect: 'json' }),
      dest('not-http', { url: url('/not-http') }),
      dest('rejecting', { url: url('/rejecting') }, { ...retry, maxAttempts: 2 }),
      dest('duplicate', { url: url('/duplicate'), clientErrors: 'accept' }),
      dest('down', { url: url('/down'), circuitBreaker: { consecutiveFailures: 2, halfOpenAfterMs: 600_000 } }, { ...retry, maxAttempts: 4 }),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    await peer.close();
  });

  async function send(channelId: string): Promise<string> {
    const res = await request(server.base).post(`/channels/${channelId}`).set('Content-Type', 'application/json').send({ 处方号: 'RX001' }).expect(202);
    return res.body.messageId as string;
  }

  async function settled(id: string, status: 'sent' | 'error'): Promise<MessageView> {
    return eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body as MessageView;
      return m.status === status && m;
    });
  }

  it('records a reply that does not come within the timeout as an error and delivers on the retry', async () => {
    peer.script('/slow', 'hang', OK);
    const m = await settled(await send('slow'), 'sent');
    expect(m.errors.map((e) => e.error)).toEqual([expect.stringContaining('no complete reply within 300 ms')]);
    expect(m.stages.find((s) => s.name === 'peer')).toMatchObject({ attempts: 2, response: `HTTP 200: ${OK.body}` });
  });

  it('records a refused connection as an error and delivers once the peer listens', async () => {
    const id = await send('refused');
    await eventually(async () => ((await request(server.base).get(`/api/messages/${id}`)).body as MessageView).errors.length > 0);
    const late = new ScriptedHttpPeer();
    await late.listen(refusedPort);
    try {
      late.script('/his', OK);
      const m = await settled(id, 'sent');
      expect(m.errors.length).toBeGreaterThan(0);
      for (const e of m.errors) expect(e.error).toContain('connection refused (ECONNREFUSED)');
      expect(late.received('/his')).toHaveLength(1);
    } finally {
      await late.close();
    }
  });

  it('records a 5xx reply as an error and delivers on the retry', async () => {
    peer.script('/failing', { status: 503, body: '系统维护中' }, OK);
    const m = await settled(await send('failing'), 'sent');
    expect(m.errors.map((e) => e.error)).toEqual([expect.stringContaining('HTTP 503: 系统维护中')]);
  });

  it('records a reply that is not the expected JSON as a malformed reply and delivers on the retry', async () => {
    peer.script('/malformed', { status: 200, body: '<html>网关错误</html>', contentType: 'text/html' }, OK);
    const m = await settled(await send('malformed'), 'sent');
    expect(m.errors.map((e) => e.error)).toEqual([expect.stringContaining('malformed reply')]);
  });

  it('records bytes that are not HTTP at all as an error and delivers on the retry', async () => {
    peer.script('/not-http', 'garbage', OK);
    const m = await settled(await send('not-http'), 'sent');
    expect(m.errors).toHaveLength(1);
    expect(m.errors[0].error).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/not-http: /);
  });

  it('retries a 4xx reply by default until the message is dead-lettered', async () => {
    peer.script('/rejecting', { status: 400, body: '{"code":"E01","msg":"患者不存在"}' });
    const m = await settled(await send('rejecting'), 'error');
    expect(m.errors.map((e) => e.error)).toEqual([1, 2].map(() => expect.stringContaining('HTTP 400')));
  });

  it('counts a 4xx reply as sent when the destination accepts client errors', async () => {
    peer.script('/duplicate', { status: 409, body: '{"msg":"重复提交"}' });
    const m = await settled(await send('duplicate'), 'sent');
    expect(m.stages.find((s) => s.name === 'peer')?.response).toBe('HTTP 409: {"msg":"重复提交"}');
  });

  it('stops calling a peer that keeps failing once the circuit opens', async () => {
    peer.script('/down', { status: 502, body: 'bad gateway' });
    const m = await settled(await send('down'), 'error');
    expect(peer.received('/down')).toHaveLength(2);
    expect(m.errors.map((e) => e.error)).toEqual([
      expect.stringContaining('HTTP 502'), expect.stringContaining('HTTP 502'),
      expect.stringContaining('circuit open'), expect.stringContaining('circuit open'),
    ]);
  });
});
