import net from 'node:net';
import * as amqp from 'amqplib';
import request from 'supertest';
import { amqpConsumer } from '../../../adapters/amqp/amqp-consumer';
import { amqpPublisher } from '../../../adapters/amqp/amqp-publisher';
import { httpSource } from '../../../adapters/http/http-source';
import { channel } from '../../../engine/channel/channel';
import { RABBIT_URL, uniqueName } from '../../support/databases';
import { freePort } from '../../support/engine-process';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';

const retry = { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50, multiplier: 2, jitter: 0, concurrency: 1 };
const patient = { retry: { ...retry, maxAttempts: 50 } };

interface MessageView {
  status: string;
  stages: { name: string; response?: string }[];
  errors: { error: string }[];
}

/** A TCP peer on the AMQP port that either says nothing or answers the protocol header with garbage. */
async function fakeBroker(mode: 'silent' | 'garbage'): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    if (mode === 'garbage') s.once('data', () => s.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n\x00\x00\xce')));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }),
  };
}

describe('foreign RabbitMQ', () => {
  const exchange = uniqueName('his_ex');
  const inbound = uniqueName('his_in');
  const outbound = uniqueName('his_out');
  const missingExchange = uniqueName('his_missing');
  let admin: amqp.ChannelModel;
  let ch: amqp.Channel;
  let silent: Awaited<ReturnType<typeof fakeBroker>>;
  let garbage: Awaited<ReturnType<typeof fakeBroker>>;
  let server: TestServer;

  beforeAll(async () => {
    admin = await amqp.connect(RABBIT_URL);
    ch = await admin.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
    await ch.assertQueue(inbound, { durable: true });
    await ch.bindQueue(inbound, exchange, 'adt.#');
    await ch.assertQueue(outbound, { durable: true });
    await ch.bindQueue(outbound, exchange, 'result.lis');
    [silent, garbage] = await Promise.all([fakeBroker('silent'), fakeBroker('garbage')]);
    const refused = await freePort();
    const out = (id: string, url: string, ex: string, policy = retry) => channel({
      id, source: httpSource(), destinations: [{ name: 'vendor', connector: amqpPublisher({ url, exchange: ex, routingKey: 'result.lis', connectTimeoutMs: 300, confirmTimeoutMs: 2000 }), queue: policy }],
    });
    server = await startTestServer(STACKS[0], (db) => [
      channel({ id: 'his-adt', source: amqpConsumer(db, { url: RABBIT_URL, queue: inbound }), destinations: [{ name: 'sink', connector: { type: 'sink', send: async () => ({}) } }] }),
      out('publish-ok', RABBIT_URL, exchange),
      out('publish-refused', `amqp://guest:guest@127.0.0.1:${refused}`, exchange),
      out('publish-silent', `amqp://guest:guest@127.0.0.1:${silent.port}`, exchange),
      out('publish-garbage', `amqp://guest:guest@127.0.0.1:${garbage.port}`, exchange),
      out('publish-missing', RABBIT_URL, missingExchange, patient.retry),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    for (const q of [inbound, outbound]) await ch?.deleteQueue(q).catch(() => undefined);
    for (const x of [exchange, missingExchange]) await ch?.deleteExchange(x).catch(() => undefined);
    await admin?.close();
    await silent?.close();
    await garbage?.close();
  });

  async function send(channelId: string): Promise<string> {
    return (await request(server.base).post(`/channels/${channelId}`).set('Content-Type', 'application/json').send({ 检验单号: 'L001' }).expect(202)).body.messageId;
  }
  async function settled(id: string, status: 'sent' | 'error'): Promise<MessageView> {
    return eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body as MessageView;
      return m.status === status && m;
    });
  }

  it('stores each message from the vendor queue with its message id and leaves the queue empty', async () => {
    for (const n of [1, 2, 3]) ch.publish(exchange, 'adt.a01', Buffer.from(JSON.stringify({ n, 姓名: '张三' })), { messageId: `HIS-${n}`, contentType: 'application/json', persistent: true });
    const stored = await eventually(async () => {
      const list = (await request(server.base).get('/api/messages').query({ channel: 'his-adt' })).body.messages as { correlationId: string }[];
      return list.length === 3 && list;
    });
    expect(stored.map((m) => m.correlationId).sort()).toEqual(['HIS-1', 'HIS-2', 'HIS-3']);
    await eventually(async () => (await ch.checkQueue(inbound)).messageCount === 0);
  });

  it('publishes to the vendor exchange with the message id and counts it sent on the confirm', async () => {
    const id = await send('publish-ok');
    const m = await settled(id, 'sent');
    expect(m.stages.find((s) => s.name === 'vendor')?.response).toMatch(/^confirmed by amqp:\/\/127\.0\.0\.1:5672/);
    const got = await eventually(async () => ch.get(outbound, { noAck: true }));
    expect(got.properties.messageId).toBe(id);
    expect(JSON.parse(got.content.toString())).toEqual({ 检验单号: 'L001' });
  });

  it('records a refused connection as an error on every attempt until the message is dead-lettered', async () => {
    const m = await settled(await send('publish-refused'), 'error');
    expect(m.errors.map((e) => e.error)).toEqual([1, 2].map(() => expect.stringContaining('connection refused (ECONNREFUSED)')));
  });

  it('records a broker that never answers as a timeout on every attempt', async () => {
    const m = await settled(await send('publish-silent'), 'error');
    expect(m.errors.map((e) => e.error)).toEqual([1, 2].map(() => expect.stringContaining('no answer within 300 ms')));
  });

  it('records a peer that answers with bytes that are not AMQP as an error on every attempt', async () => {
    const m = await settled(await send('publish-garbage'), 'error');
    expect(m.errors).toHaveLength(2);
    for (const e of m.errors) expect(e.error).toMatch(/^publish to amqp:\/\/127\.0\.0\.1:\d+ exchange/);
  });

  it('records a publish the broker refuses as an error and delivers once the exchange exists', async () => {
    const id = await send('publish-missing');
    await eventually(async () => ((await request(server.base).get(`/api/messages/${id}`)).body as MessageView).errors.length > 0);
    await ch.assertExchange(missingExchange, 'direct', { durable: false });
    await ch.bindQueue(outbound, missingExchange, 'result.lis');
    const m = await settled(id, 'sent');
    expect(m.errors[0].error).toContain('NOT_FOUND');
  });
});
