import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../engine/config/config';

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

  it('stops with the file and field named when a value is invalid', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-cfg-'));
    const file = path.join(dir, 'site.yaml');
    fs.writeFileSync(file, 'engine:\n  defaultQueue:\n    jitter: 3\n');
    expect(() => loadConfig({ LINGSHU_CONFIG: file }, root)).toThrow(/site\.yaml.*engine\.defaultQueue\.jitter/);
    expect(() => loadConfig({ LINGSHU_BUS: 'kafka://x' }, root)).toThrow(/bus: must be empty/);
  });
});
