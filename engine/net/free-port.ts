import fs from 'node:fs';
import net from 'node:net';

/**
 * A port nobody listens on, for a listener started later (a test's, a demo peer's). Taken below the kernel's
 * ephemeral range: a port that `listen(0)` handed out and closed could be handed out again, meanwhile, to any
 * listener that asks for port 0 (a simulator, another jest worker, the engine on port 0), which then fails the
 * later listener with EADDRINUSE. Checked on every interface, and never the same one twice in this process.
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
