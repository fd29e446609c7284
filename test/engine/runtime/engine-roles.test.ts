import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { adapterRegistry } from '../../../adapters/registry';
import { httpSource } from '../../../adapters/http/http-source';
import { channel, DestinationConnector, OutboundMessage } from '../../../engine/channel/channel';
import { ConfigError, loadConfig } from '../../../engine/config/config';
import { setMessageView } from '../../../engine/http/ops-api';
import { RunningServer, startServer } from '../../../engine/server';
import { brokerCleanup } from '../../support/broker-cleanup';
import { createTestDatabase, RABBIT_URL, TestDatabase, uniqueName } from '../../support/databases';
import { eventually } from '../../support/engine-server';

class Recorder implements DestinationConnector {
  readonly type = 'recorder';
  readonly seen: string[] = [];
  async send(m: OutboundMessage) {
    this.seen.push(m.messageId);
    return { response: 'ok' };
  }
}

/**
 * Two nodes on one PostgreSQL database and one RabbitMQ broker: one only takes messages in (its sources), the other
 * only delivers them (its destination queues), so that delivery work never delays a sender's acknowledgement.
 */
describe('engine roles: an ingest node and a deliver node (PostgreSQL + RabbitMQ)', () => {
  let database: TestDatabase;
  let channelsDir: string;
  const prefix = uniqueName('lsr');
  const recorders = { ingest: new Recorder(), deliver: new Recorder() };
  const nodes: Partial<Record<'ingest' | 'deliver', RunningServer>> = {};

  const start = (role: 'ingest' | 'deliver') => startServer({
    config: loadConfig({
      LINGSHU_PORT: '0', LINGSHU_DB: database.url, LINGSHU_BUS: RABBIT_URL, LINGSHU_CHANNELS_DIR: channelsDir,
      LINGSHU_PROFILE: 'production', LINGSHU_RABBITMQ__PREFIX: prefix, LINGSHU_ENGINE__ROLES: role, LINGSHU_NODE_ID: role,
    }),
    registry: adapterRegistry(),
    channels: () => [channel({ id: 'lab', source: httpSource(), destinations: [{ name: 'his', connector: recorders[role] }] })],
    mount: (app) => { app.use('/api', (_req, res, next) => { setMessageView(res, { raw: true, recordRawView: async () => undefined }); next(); }); },
  });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-roles-'));
    nodes.ingest = await start('ingest');
    nodes.deliver = await start('deliver');
  });

  afterAll(async () => {
    const cleanup = nodes.ingest && brokerCleanup(nodes.ingest.bus, RABBIT_URL, prefix);
    await nodes.deliver?.stop();
    await nodes.ingest?.stop();
    await cleanup?.();
    await database.drop();
    fs.rmSync(channelsDir, { recursive: true, force: true });
  });

  it('the ingest node stores and acknowledges; only the deliver node sends, and the stage is recorded as sent', async () => {
    expect(nodes.ingest!.engine.roles).toEqual(['ingest']);
    expect(nodes.deliver!.engine.roles).toEqual(['deliver']);
    const base = `http://127.0.0.1:${nodes.ingest!.port}`;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await request(base).post('/channels/lab').send({ 检验单: i }).expect(202)).body.messageId);
    await eventually(() => recorders.deliver.seen.length >= ids.length);
    expect([...recorders.deliver.seen].sort()).toEqual([...ids].sort());
    expect(recorders.ingest.seen).toEqual([]);
    for (const id of ids) {
      await eventually(async () => (await request(base).get(`/api/messages/${id}`)).body.status === 'sent');
    }
  });

  it('a deliver-only node turns senders away with 503 and a reason', async () => {
    const res = await request(`http://127.0.0.1:${nodes.deliver!.port}`).post('/channels/lab').send({ x: 1 }).expect(503);
    expect(res.body.error).toMatch(/engine\.roles/);
  });

  it('splitting the roles without RabbitMQ is a configuration error naming the field', () => {
    expect(() => loadConfig({ LINGSHU_BUS: '', LINGSHU_ENGINE__ROLES: 'deliver' })).toThrow(ConfigError);
    expect(() => loadConfig({ LINGSHU_BUS: '', LINGSHU_ENGINE__ROLES: 'deliver' })).toThrow(/engine\.roles/);
    expect(() => loadConfig({ LINGSHU_BUS: RABBIT_URL, LINGSHU_ENGINE__ROLES: 'deliver,relay' })).toThrow(/engine\.roles/);
  });
});
