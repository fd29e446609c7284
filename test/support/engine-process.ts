import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.join(__dirname, '../..');

/**
 * A port nobody listens on, for a listener a test starts later. Taken below the kernel's ephemeral range: a port
 * that `listen(0)` handed out and closed could be handed out again, meanwhile, to any listener that asks for port 0
 * (a simulator, another jest worker), which then fails the test's own listener with EADDRINUSE. Checked on every
 * interface, and never the same one twice in this process.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const floor = Math.min(20_000, low - 2_000);
  for (let tries = 0; tries < 200; tries++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (given.has(port)) continue;
    // Claimed before the check, so that calls made together (Promise.all) cannot pick the same one.
    given.add(port);
    if (await listenable(port)) return port;
    given.delete(port);
  }
  throw new Error('no free port below the ephemeral range');
}

const given = new Set<number>();
let range: [number, number] | undefined;

/** The kernel's ephemeral port range, read once per process. */
function ephemeralRange(): [number, number] {
  if (range) return range;
  range = [32_768, 60_999];
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 3_000 && high > low) range = [low, high];
  } catch { /* not Linux */ }
  return range;
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

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
