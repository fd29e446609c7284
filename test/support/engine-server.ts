import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { adapterRegistry } from '../../adapters/registry';
import type { ChannelDefinition } from '../../engine/channel/channel';
import { loadConfig } from '../../engine/config/config';
import { setMessageView } from '../../engine/http/ops-api';
import { RunningServer, startServer } from '../../engine/server';
import { brokerCleanup } from './broker-cleanup';
import { createTestDatabase, RABBIT_URL, TestDatabase, uniqueName } from './databases';

export interface Stack {
  name: string;
  db: TestDatabase['name'];
  bus: 'in-process' | 'rabbitmq';
}

/** The combinations the engine suites run on: the embedded default, and the production pair. */
export const STACKS: Stack[] = [
  { name: 'SQLite + in-process bus', db: 'sqlite', bus: 'in-process' },
  { name: 'PostgreSQL + RabbitMQ', db: 'postgres', bus: 'rabbitmq' },
  { name: 'MariaDB + in-process bus', db: 'mysql', bus: 'in-process' },
];

export interface TestServer extends RunningServer {
  base: string;
  channelsDir: string;
  cleanup(): Promise<void>;
}

/** A whole engine on a free port, its own database, its own queue prefix and its own channels folder. */
export async function startTestServer(stack: Stack, channels: (db: Knex) => ChannelDefinition[] = () => [], yaml: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase(stack.db);
  const channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-channels-'));
  for (const [file, text] of Object.entries(yaml)) fs.writeFileSync(path.join(channelsDir, file), text);
  const prefix = uniqueName('lst');
  const config = loadConfig({
    LINGSHU_PORT: '0',
    LINGSHU_DB: database.url,
    LINGSHU_BUS: stack.bus === 'rabbitmq' ? RABBIT_URL : '',
    LINGSHU_CHANNELS_DIR: channelsDir,
    LINGSHU_PROFILE: 'production',
    LINGSHU_RABBITMQ__PREFIX: prefix,
    LINGSHU_ENGINE__DISPATCH_SWEEP_MS: '500',
  });
  // The engine suites check what the engine stored and sent, byte for byte: they read the message browser unmasked,
  // as a break-glass user would. Masking is the security module's business (test/fhir-resources/auth/message-browser).
  const running = await startServer({
    config, registry: adapterRegistry(), channels,
    mount: (app) => { app.use('/api', (_req, res, next) => { setMessageView(res, { raw: true, recordRawView: async () => undefined }); next(); }); },
  });
  return {
    ...running,
    base: `http://127.0.0.1:${running.port}`,
    channelsDir,
    async cleanup() {
      const removeBrokerObjects = brokerCleanup(running.bus, RABBIT_URL, prefix);
      await running.stop();
      await removeBrokerObjects();
      await database.drop();
      fs.rmSync(channelsDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a truthy value or the time is up (for asynchronous delivery). */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
