import { createHmac } from 'node:crypto';
import request from 'supertest';
import { httpSource } from '../../../adapters/http/http-source';
import { channel, DestinationConnector } from '../../../engine/channel/channel';
import { STACKS, startTestServer, TestServer } from '../../support/engine-server';

const TOKEN = 'test-bearer-token-taoyuan';
const SECRET = 'test-hmac-secret';
const sink: DestinationConnector = { type: 'sink', send: async () => ({ response: 'ok' }) };

describe('HTTP listener options per channel', () => {
  let server: TestServer;

  beforeAll(async () => {
    process.env.LINGSHU_TEST_APPOINTMENT_SECRET = SECRET;
    server = await startTestServer(STACKS[0], () => [
      channel({ id: 'bearer-json', source: httpSource({ body: 'json', auth: { type: 'bearer', value: TOKEN } }), destinations: [{ name: 'out', connector: sink }] }),
      channel({ id: 'signed-xml', source: httpSource({ path: '/notify/result', methods: ['PUT'], body: 'xml', auth: { type: 'hmac', env: 'LINGSHU_TEST_APPOINTMENT_SECRET', header: 'X-Sign' } }), destinations: [{ name: 'out', connector: sink }] }),
    ]);
  });
  afterAll(async () => server?.cleanup());

  it('refuses a request without the channel bearer token and stores nothing', async () => {
    await request(server.base).post('/channels/bearer-json').set('Authorization', 'Bearer wrong').set('Content-Type', 'application/json').send('{"a":1}').expect(401);
    const listed = (await request(server.base).get('/api/messages').query({ channel: 'bearer-json' })).body;
    expect(listed.messages).toHaveLength(0);
  });

  it('refuses a body that is not JSON on a JSON channel with 400', async () => {
    const res = await request(server.base).post('/channels/bearer-json').set('Authorization', `Bearer ${TOKEN}`).set('Content-Type', 'application/json').send('{"a":').expect(400);
    expect(res.body.error).toMatch(/not JSON/);
  });

  it('stores a JSON body that carries the bearer token', async () => {
    await request(server.base).post('/channels/bearer-json').set('Authorization', `Bearer ${TOKEN}`).set('Content-Type', 'application/json').send('{"预约号":"A1"}').expect(202);
  });

  it('stores an XML body signed with the channel secret on the configured path and method', async () => {
    const xml = '<result><no>R1</no><status>已完成</status></result>';
    const sign = createHmac('sha256', SECRET).update(Buffer.from(xml)).digest('hex');
    const res = await request(server.base).put('/channels/signed-xml/notify/result').set('X-Sign', sign).set('Content-Type', 'application/xml; charset=utf-8').send(xml).expect(202);
    const stored = (await request(server.base).get(`/api/messages/${res.body.messageId}`)).body;
    expect(stored.raw).toBe(xml);
  });

  it('refuses an XML body whose signature does not match', async () => {
    await request(server.base).put('/channels/signed-xml/notify/result').set('X-Sign', 'deadbeef').set('Content-Type', 'application/xml').send('<a/>').expect(401);
  });

  it('answers 405 to a method the channel does not take', async () => {
    await request(server.base).post('/channels/signed-xml/notify/result').set('Content-Type', 'application/xml').send('<a/>').expect(405);
  });
});
