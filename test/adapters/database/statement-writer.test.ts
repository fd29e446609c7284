import net from 'node:net';
import type { Knex } from 'knex';
import request from 'supertest';
import { statementWriter, StatementWriterOptions } from '../../../adapters/database/statement-writer';
import { httpSource } from '../../../adapters/http/http-source';
import { channel } from '../../../engine/channel/channel';
import { createTestDatabase, TestDatabase } from '../../support/databases';
import { freePort } from '../../support/engine-process';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';

const retry = { maxAttempts: 30, initialDelayMs: 20, maxDelayMs: 100, multiplier: 2, jitter: 0, concurrency: 1 };
const INSERT = 'INSERT INTO his_inbox (msg_id, patient_id, body) VALUES (:messageId, :patientId, :content)';

interface MessageView {
  status: string;
  stages: { name: string; status: string; attempts: number; response?: string }[];
  errors: { attempt: number; error: string }[];
}

/**
 * The database writer against a real PostgreSQL standing in for the HIS interface database, and against peers that
 * fail: each failure is a recorded error on the message that the queue policy retries, and none stops the engine.
 */
describe('database writer to a HIS table', () => {
  let his: TestDatabase;
  let hisDb: Knex;
  let server: TestServer;
  let refusedPort: number;
  let notADatabase: net.Server;
  let hisUrl: string;
  const garbageSockets = new Set<net.Socket>();

  const dest = (id: string, options: Partial<StatementWriterOptions>, queue: object = retry) =>
    channel({ id, source: httpSource(), destinations: [{ name: 'his', connector: statementWriter({ url: hisUrl, statement: INSERT, ...options }), queue }] });

  beforeAll(async () => {
    his = await createTestDatabase('postgres');
    hisUrl = his.url;
    hisDb = his.open();
    await hisDb.schema.createTable('his_inbox', (t) => {
      t.string('msg_id', 64).primary();
      t.string('patient_id', 32);
      t.text('body');
    });
    refusedPort = await freePort();
    // Answers every connection with bytes that are no database protocol, then hangs up.
    notADatabase = net.createServer((s) => {
      garbageSockets.add(s.on('close', () => garbageSockets.delete(s)).on('error', () => undefined));
      s.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => notADatabase.listen(0, '127.0.0.1', resolve));
    const garbagePort = (notADatabase.address() as net.AddressInfo).port;
    server = await startTestServer(STACKS[0], () => [
      dest('written', {}),
      dest('locked', { timeoutMs: 300 }),
      dest('refused', { url: `postgres://postgres@127.0.0.1:${refusedPort}/his` }, { ...retry, maxAttempts: 3 }),
      dest('no-table', { statement: 'INSERT INTO his_inbox_late (msg_id, body) VALUES (:messageId, :content)' }),
      dest('not-a-database', { url: `postgres://postgres@127.0.0.1:${garbagePort}/his` }, { ...retry, maxAttempts: 3 }),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    // The driver may leave its end of the garbage connections open; the server cannot close before they go.
    for (const socket of garbageSockets) socket.destroy();
    await new Promise((resolve) => notADatabase?.close(resolve));
    await hisDb?.destroy();
    await his?.drop();
  });

  async function send(channelId: string, body: object = { patientId: 'P000100002', 医嘱: '血常规' }): Promise<string> {
    const res = await request(server.base).post(`/channels/${channelId}`).set('Content-Type', 'application/json').send(body).expect(202);
    return res.body.messageId as string;
  }

  async function settled(id: string, status: 'sent' | 'error'): Promise<MessageView> {
    return eventually(async () => {
      const m = (await request(server.base).get(`/api/messages/${id}`)).body as MessageView;
      return m.status === status && m;
    });
  }

  it('runs the statement with the message fields bound and counts a repeat of the message as delivered', async () => {
    const id = await send('written');
    const m = await settled(id, 'sent');
    expect(m.stages.find((s) => s.name === 'his')?.response).toBe('statement executed');
    expect(await hisDb('his_inbox').where({ msg_id: id }).first()).toMatchObject({ patient_id: 'P000100002' });
    const again = await statementWriter({ url: hisUrl, statement: INSERT });
    await again.start!();
    try {
      const reply = await again.send({ messageId: id, channelId: 'written', destination: 'his', correlationId: id, content: '{"patientId":"P000100002"}', attempt: 2 });
      expect(reply.response).toBe(`message ${id} already written (unique key)`);
    } finally {
      await again.stop!();
    }
  });

  it('records a statement that gets no answer within its timeout as an error and writes on the retry', async () => {
    // The HIS holds a lock the statement needs (its own interface job is busy with the table).
    const lock = await hisDb.transaction();
    await lock.raw('LOCK TABLE his_inbox IN EXCLUSIVE MODE');
    let id: string;
    try {
      id = await send('locked');
      await eventually(async () => ((await request(server.base).get(`/api/messages/${id}`)).body as MessageView).errors.length > 0);
    } finally {
      await lock.rollback();
    }
    const m = await settled(id, 'sent');
    expect(m.errors.length).toBeGreaterThan(0);
    for (const e of m.errors) expect(e.error).toMatch(/^postgres:\/\/127\.0\.0\.1:5432\/\w+: no answer within 300 ms \(statement cancelled\)$/);
    expect(await hisDb('his_inbox').where({ msg_id: id }).first()).toBeDefined();
  });

  it('records a refused connection as an error on every attempt and dead-letters the message', async () => {
    const m = await settled(await send('refused'), 'error');
    expect(m.errors.map((e) => e.error)).toEqual([1, 2, 3].map(() => `postgres://127.0.0.1:${refusedPort}/his: connection refused (ECONNREFUSED)`));
  });

  it('records an error of the database server with its reason, without the bound values, and writes once the table exists', async () => {
    const id = await send('no-table', { patientId: 'P000100002', name: '张建国' });
    await eventually(async () => ((await request(server.base).get(`/api/messages/${id}`)).body as MessageView).errors.length > 0);
    await hisDb.schema.createTable('his_inbox_late', (t) => {
      t.string('msg_id', 64).primary();
      t.text('body');
    });
    const m = await settled(id, 'sent');
    for (const e of m.errors) {
      expect(e.error).toMatch(/: relation "his_inbox_late" does not exist \(42P01\)$/);
      expect(e.error).not.toContain('张建国');
    }
  });

  it('records a peer that answers with bytes that are no database protocol as an error on every attempt', async () => {
    const m = await settled(await send('not-a-database'), 'error');
    expect(m.errors).toHaveLength(3);
    for (const e of m.errors) expect(e.error).toMatch(/^postgres:\/\/127\.0\.0\.1:\d+\/his: /);
    // The engine is still serving.
    await request(server.base).get('/health/ready').expect(200);
  });
});
