import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RabbitMqBus } from '../../../engine/bus/rabbitmq-bus';
import { createTestDatabase, RABBIT_URL, TestDatabase, uniqueName } from '../../support/databases';
import { EngineProcess, freePort } from '../../support/engine-process';
import { eventually, Stack } from '../../support/engine-server';

// One delivery at a time, so that the kill is sure to find accepted messages not yet delivered.
const DEMO = fs.readFileSync(path.join(__dirname, '../../../config/channels/demo-echo.yaml'), 'utf8')
  .replace('maxAttempts: 5', 'maxAttempts: 5\n      concurrency: 1');
const STACKS: Stack[] = [
  { name: 'SQLite + in-process bus', db: 'sqlite', bus: 'in-process' },
  { name: 'PostgreSQL + RabbitMQ', db: 'postgres', bus: 'rabbitmq' },
];
const TOTAL = 1000;

describe.each(STACKS)('SIGKILL with 1,000 messages in flight on $name', (stack) => {
  let database: TestDatabase;
  let channelsDir: string;
  let engine: EngineProcess;

  const prefix = uniqueName('crash');

  beforeAll(async () => {
    database = await createTestDatabase(stack.db);
    channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-crash-'));
    fs.writeFileSync(path.join(channelsDir, 'demo-echo.yaml'), DEMO);
    engine = new EngineProcess({
      LINGSHU_DB: database.url,
      LINGSHU_BUS: stack.bus === 'rabbitmq' ? RABBIT_URL : '',
      LINGSHU_CHANNELS_DIR: channelsDir,
      LINGSHU_PROFILE: 'production',
      LINGSHU_RABBITMQ__PREFIX: prefix,
      LINGSHU_LOG_LEVEL: 'warn',
    }, await freePort());
  });
  afterAll(async () => {
    await engine?.kill();
    if (stack.bus === 'rabbitmq') {
      // The killed engine cannot clean up after itself: remove its queues, or they pile up on the broker.
      const admin = new RabbitMqBus(RABBIT_URL, { prefix });
      await admin.start();
      await admin.removeQueue(`${prefix}.ch.demo-echo.write-row`).catch(() => undefined);
      await admin.close();
    }
    await database?.drop();
    fs.rmSync(channelsDir, { recursive: true, force: true });
  });

  it('delivers every accepted message exactly once after a restart', async () => {
    await engine.start();
    const accepted = new Set<string>();
    let killed = false;
    let next = 0;
    const body = JSON.stringify({ pad: 'x'.repeat(2000) });
    const worker = async () => {
      while (next < TOTAL && !killed) {
        next++;
        try {
          const res = await fetch(`${engine.base}/channels/demo-echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          if (res.status === 202) accepted.add(((await res.json()) as { messageId: string }).messageId);
        } catch {
          // refused or reset by the kill: the sender was never acknowledged, so the engine owes it nothing
        }
        if (accepted.size >= TOTAL * 0.3 && !killed) {
          killed = true;
          await engine.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    expect(killed).toBe(true);

    const db = database.open();
    try {
      const before = Number((await db('demo_echo_out').count({ n: '*' }))[0].n);
      expect(before).toBeLessThan(accepted.size); // the kill really caught messages in flight

      await engine.start();
      const sentStages = async () => Number((await db('lingshu_message_stages').where({ name: 'write-row', status: 'sent' }).count({ n: '*' }))[0].n);
      // The stage's 'sent' is recorded after the row is written (and may share a later commit): wait for both.
      await eventually(async () => {
        const rows = await db('demo_echo_out').select('message_id');
        const got = new Set(rows.map((r: { message_id: string }) => r.message_id));
        return [...accepted].every((id) => got.has(id)) && (await sentStages()) >= accepted.size;
      }, 60000, 250);
      const rows = await db('demo_echo_out').select('message_id');
      expect(rows.length).toBe(new Set(rows.map((r: { message_id: string }) => r.message_id)).size);
      expect(await sentStages()).toBeGreaterThanOrEqual(accepted.size);
    } finally {
      await db.destroy();
    }
  }, 180000);
});
