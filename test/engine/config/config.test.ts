import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../engine/config/config';
import { defaultPoolSize, openDatabase } from '../../../engine/db';

const root = path.join(__dirname, '../../..');

describe('configuration', () => {
  it('runs on the embedded defaults when nothing is configured', () => {
    const c = loadConfig({}, root);
    expect(c).toMatchObject({ port: 8080, db: '', bus: '', profile: 'demo' });
    expect(c.nodeId).toBeTruthy();
  });

  it('takes LINGSHU_* overrides, typed like the defaults', () => {
    const c = loadConfig({ LINGSHU_PORT: '9090', LINGSHU_BUS: 'amqp://127.0.0.1', LINGSHU_ENGINE__DEFAULT_QUEUE__MAX_ATTEMPTS: '9' }, root);
    expect(c.port).toBe(9090);
    expect(c.bus).toBe('amqp://127.0.0.1');
    expect(c.engine.defaultQueue.maxAttempts).toBe(9);
  });

  it('sizes the database pool by this machine\'s cores unless LINGSHU_DB_POOL says otherwise', async () => {
    expect(loadConfig({}, root).dbPool).toBe(0);
    expect(loadConfig({ LINGSHU_DB_POOL: '24' }, root).dbPool).toBe(24);
    expect(defaultPoolSize()).toBe(2 * os.cpus().length + 1);
    // knex connects lazily: nothing is opened here.
    const sized = openDatabase('postgres://nobody@127.0.0.1:1/none');
    const configured = openDatabase('postgres://nobody@127.0.0.1:1/none', { pool: 24 });
    expect([sized.client.config.pool.max, configured.client.config.pool.max]).toEqual([defaultPoolSize(), 24]);
    await Promise.all([sized.destroy(), configured.destroy()]);
    expect(() => loadConfig({ LINGSHU_DB_POOL: '-1' }, root)).toThrow(/dbPool/);
  });

  it('stops with the file and field named when a value is invalid', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-cfg-'));
    const file = path.join(dir, 'site.yaml');
    fs.writeFileSync(file, 'engine:\n  defaultQueue:\n    jitter: 3\n');
    expect(() => loadConfig({ LINGSHU_CONFIG: file }, root)).toThrow(/site\.yaml.*engine\.defaultQueue\.jitter/);
    expect(() => loadConfig({ LINGSHU_BUS: 'kafka://x' }, root)).toThrow(/bus: must be empty/);
  });
});
