import { execFileSync } from 'node:child_process';
import request from 'supertest';
import fs from 'node:fs';
import path from 'node:path';
import { eventually, startTestServer, TestServer } from '../../support/engine-server';

/**
 * Stops and starts the machine's RabbitMQ, so this suite runs alone (jest.serial.config.js), after the others.
 */
const DEMO = fs.readFileSync(path.join(__dirname, '../../../config/channels/demo-echo.yaml'), 'utf8');

function rabbit(cmd: 'stop_app' | 'start_app'): void {
  execFileSync('rabbitmqctl', [cmd], { stdio: 'ignore', timeout: 120000 });
}

describe('RabbitMQ stopped and started during a run', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ name: 'pg', db: 'postgres', bus: 'rabbitmq' }, () => [], { 'demo-echo.yaml': DEMO });
  });
  afterAll(async () => {
    rabbit('start_app');
    await server?.cleanup();
  });

  it('reconnects by itself and delivers every message acknowledged during the outage', async () => {
    const accepted: string[] = [];
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await request(server.base).post('/channels/demo-echo').set('Content-Type', 'application/json').send({ i, at: Date.now() });
        expect(res.status).toBe(202);
        accepted.push(res.body.messageId);
      }
    };
    await send(50);
    rabbit('stop_app');
    await eventually(async () => (await request(server.base).get('/health/ready')).status === 503);
    const ready = await request(server.base).get('/health/ready');
    expect(ready.body.down).toEqual(['bus']);
    await send(50); // the store still takes them: the sender is acknowledged, delivery waits for the broker
    rabbit('start_app');
    await eventually(async () => (await request(server.base).get('/health/ready')).status === 200, 60000);
    await send(50);
    await eventually(async () => {
      const rows = await server.db('demo_echo_out').whereIn('message_id', accepted).count({ n: '*' });
      return Number(rows[0].n) === accepted.length;
    }, 90000, 250);
  }, 240000);
});
