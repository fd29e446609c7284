import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EngineProcess, freePort } from './support/engine-process';

/** main.ts: a start-up that fails says why in its log line, not just that it failed. */
describe('start-up failure', () => {
  it('names the cause (a port already in use) and exits', async () => {
    const port = await freePort();
    // It answers (503), so that the test's readiness polling moves on and sees the engine exit.
    const squatter = http.createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => squatter.listen(port, resolve));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-startup-'));
    const engine = new EngineProcess({ LINGSHU_DB: `sqlite:${path.join(dir, 'l.db')}`, LINGSHU_BUS: '', LINGSHU_PROFILE: 'production' }, port);
    try {
      await expect(engine.start()).rejects.toThrow(/engine exited with 1/);
      const line = engine.output.split('\n').find((l) => l.includes('"start-up failed"'));
      expect(JSON.parse(line!)).toMatchObject({ level: 'error', error: { code: 'EADDRINUSE', message: expect.stringContaining(String(port)) } });
    } finally {
      await engine.kill().catch(() => undefined);
      await new Promise((r) => squatter.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
