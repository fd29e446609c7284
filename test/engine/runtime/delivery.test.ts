import request from 'supertest';
import { channel, DestinationConnector, OutboundMessage } from '../../../engine/channel/channel';
import { httpSource } from '../../../adapters/http/http-source';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';

/** A peer that fails a given number of times per message, then accepts; records each effect it performed. */
class ScriptedPeer implements DestinationConnector {
  readonly type = 'scripted';
  readonly effects: string[] = [];
  readonly calls = new Map<string, number>();
  constructor(public failuresPerMessage: number) {}
  async send(m: OutboundMessage) {
    const n = (this.calls.get(m.messageId) ?? 0) + 1;
    this.calls.set(m.messageId, n);
    if (n <= this.failuresPerMessage) throw new Error(`peer refused attempt ${n}: 503 Service Unavailable`);
    this.effects.push(m.messageId);
    return { response: `accepted on attempt ${n}` };
  }
}

const retry = { maxAttempts: 4, initialDelayMs: 30, maxDelayMs: 200, multiplier: 2, jitter: 0.1, concurrency: 4 };

describe.each(STACKS)('message delivery on $name', (stack) => {
  let server: TestServer;
  const flaky = new ScriptedPeer(3);
  const broken = new ScriptedPeer(Number.MAX_SAFE_INTEGER);

  beforeAll(async () => {
    server = await startTestServer(stack, () => [
      channel({ id: 'flaky', source: httpSource(), destinations: [{ name: 'peer', connector: flaky, queue: retry }] }),
      channel({ id: 'broken', source: httpSource(), destinations: [{ name: 'peer', connector: broken, queue: { ...retry, maxAttempts: 3 } }] }),
    ]);
  });
  afterAll(async () => server?.cleanup());

  it('delivers once to a destination that fails three times and then succeeds', async () => {
    const res = await request(server.base).post('/channels/flaky').set('Content-Type', 'application/json').send({ hello: '灵枢' }).expect(202);
    const id = res.body.messageId as string;
    const msg = await eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body;
      return m.status === 'sent' && m;
    });
    expect(flaky.effects.filter((e) => e === id)).toHaveLength(1);
    expect(flaky.calls.get(id)).toBe(4);
    const stage = msg.stages.find((s: { name: string }) => s.name === 'peer');
    expect(stage).toMatchObject({ status: 'sent', attempts: 4, response: 'accepted on attempt 4' });
    expect(msg.errors.map((e: { attempt: number }) => e.attempt)).toEqual([1, 2, 3]);
  });

  it('dead-letters a message that always fails, records every attempt, and delivers it when reprocessed', async () => {
    const res = await request(server.base).post('/channels/broken').set('Content-Type', 'text/plain; charset=utf-8').send('MSH|^~\\&|HIS|桃源院区').expect(202);
    const id = res.body.messageId as string;
    const msg = await eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body;
      return m.status === 'error' && m;
    });
    expect(msg.errors).toHaveLength(3);
    expect(msg.errors.map((e: { error: string }) => e.error)).toEqual([1, 2, 3].map((n) => `peer refused attempt ${n}: 503 Service Unavailable`));
    const queue = server.engine.queueName('broken', 'peer');
    await eventually(async () => (await server.bus.deadLetters(queue)).some((d) => d.id === `${id}/peer`));
    const listed = (await request(server.base).get('/api/messages').query({ channel: 'broken', status: 'error' })).body;
    expect(listed.messages.map((m: { id: string }) => m.id)).toContain(id);

    broken.failuresPerMessage = 0;
    const again = await request(server.base).post(`/api/messages/${id}/reprocess`).send({}).expect(202);
    await eventually(async () => (await request(server.base).get(`/api/messages/${again.body.messageId}`)).body.status === 'sent');
    expect(broken.effects).toEqual([again.body.messageId]);
    const reprocessed = (await request(server.base).get(`/api/messages/${again.body.messageId}`)).body;
    expect(reprocessed).toMatchObject({ reprocessedFrom: id, correlationId: msg.correlationId, raw: 'MSH|^~\\&|HIS|桃源院区' });
    await eventually(async () => !(await server.bus.deadLetters(queue)).some((d) => d.id === `${id}/peer`));
  });

  it('answers 503 while a channel is paused and takes messages again after resume', async () => {
    await request(server.base).post('/api/channels/flaky/pause').expect(200);
    await request(server.base).post('/channels/flaky').send('x').expect(503);
    await request(server.base).post('/api/channels/flaky/resume').expect(200);
    await request(server.base).post('/channels/flaky').send('x').expect(202);
  });

  it('reports channel state, counters and rates', async () => {
    const list = (await request(server.base).get('/api/channels').expect(200)).body;
    const flakyView = list.find((c: { id: string }) => c.id === 'flaky');
    expect(flakyView).toMatchObject({ state: 'started', source: 'http' });
    expect(flakyView.counters.received).toBeGreaterThanOrEqual(2);
    expect(flakyView.rates.received.m1).toBeGreaterThan(0);
  });

  it('acknowledges while long transactions hold every connection of the shared pool (server databases: the store has its own)', async () => {
    if (stack.db === 'sqlite') return;
    const releases: (() => void)[] = [];
    const max = server.db.client.pool.max as number;
    const holders = Array.from({ length: max }, () => server.db.transaction(() => new Promise<void>((release) => releases.push(release))));
    try {
      await eventually(() => releases.length === max);
      const started = Date.now();
      await request(server.base).post('/channels/flaky').send('while the pool is full').expect(202);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const release of releases) release();
      await Promise.all(holders);
    }
  });
});
