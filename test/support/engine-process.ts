import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export { freePort } from '../../engine/net/free-port';

const ROOT = path.join(__dirname, '../..');

/** Runs main.ts in a child process (tsx loader, no build step) so that a test can SIGKILL it like a real crash. */
export class EngineProcess {
  child?: ChildProcess;
  output = '';

  constructor(readonly env: Record<string, string>, readonly port: number) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 60000): Promise<void> {
    // tsx as a loader of this very process: its CLI would fork a grandchild that SIGKILL would leave running.
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, LINGSHU_PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => { this.output += d; });
    this.child.stderr!.on('data', (d) => { this.output += d; });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`engine exited with ${this.child.exitCode}:\n${this.output.slice(-4000)}`);
      try {
        const res = await fetch(`${this.base}/health/ready`);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`engine did not become ready:\n${this.output.slice(-4000)}`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return new Promise((resolve) => {
      if (!this.child || this.child.exitCode !== null || this.child.signalCode) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill(signal);
    });
  }
}
