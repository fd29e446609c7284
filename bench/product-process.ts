/**
 * The product as the benchmarks run it: dist/main.js in a child process on a free port, the CPU that it, PostgreSQL,
 * RabbitMQ and the load generator used (from /proc), and the broker objects it declared removed afterwards.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import { AMQP_SOCKET_OPTIONS } from '../engine/bus/amqp-socket';

export const ROOT = path.join(__dirname, '..', '..');

export { freePort } from '../engine/net/free-port';

/**
 * CPU seconds used so far by the engine, PostgreSQL, RabbitMQ and this process (the load generator), from /proc:
 * on a shared 2-core machine the per-message CPU cost is the figure that other load does not distort.
 */
export function cpuSeconds(engine: number | Record<string, number>): Record<string, number> {
  const names = new Map<number, string>(typeof engine === 'number' ? [[engine, 'engine']] : Object.entries(engine).map(([k, v]) => [v, k]));
  const out: Record<string, number> = {};
  if (!fs.existsSync('/proc/self/stat')) return out;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    const who = names.get(Number(pid)) ?? (Number(pid) === process.pid ? 'loadgen' : comm.startsWith('postgres') ? 'postgres' : comm.startsWith('beam') ? 'rabbitmq' : undefined);
    if (who) out[who] = (out[who] ?? 0) + (Number(f[11]) + Number(f[12])) / 100;
  }
  return out;
}

/**
 * The node flags that `npm start` gives the product (package.json's start script), so that a benchmark measures the
 * product as it is started and not a bare `node dist/main.js`: the young generation's size alone changed the
 * clinical benchmark's throughput by a sixth.
 */
export function productNodeFlags(): string[] {
  const start = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.trim().split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('dist/main.js'));
}

/** Starts dist/main.js with `env` on `port` and waits until /health/ready answers; `nodeArgs` e.g. --cpu-prof. */
export async function startProduct(env: Record<string, string>, port: number, nodeArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...productNodeFlags(), ...nodeArgs, path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT, env: { ...process.env, LINGSHU_LOG_LEVEL: 'warn', ...env, LINGSHU_PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the engine exited with ${child.exitCode} while starting`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200) return child;
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('engine did not start');
}

export async function stopProduct(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Quorum queues left behind by every run would pile up in the broker (memory, start-up time). `mains` are the
 * destination queues' full names (broker prefix included); their partitions, dead-letter and retry queues go too.
 */
export async function removeQueues(url: string, mains: string[], exchanges: string[] = []): Promise<void> {
  const conn = await amqp.connect(url, AMQP_SOCKET_OPTIONS);
  const ch = await conn.createChannel();
  for (const main of mains) {
    const names = [main, ...[0, 1, 2, 3].map((p) => `${main}.p${p}`), `${main}.dlq`, ...Array.from({ length: 12 }, (_, i) => `${main}.retry.${i + 1}`)];
    for (const q of names) await ch.deleteQueue(q);
    await ch.deleteExchange(`${main}.retry`);
  }
  for (const x of exchanges) await ch.deleteExchange(x);
  await conn.close();
}
