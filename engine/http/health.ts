import { Router } from 'express';
import type { Knex } from 'knex';
import type { Bus } from '../bus/bus';

/** Liveness says the process answers; readiness says it can take messages (database and broker both reachable). */
export function healthRoutes(db: Knex, bus: Bus): Router {
  const r = Router();
  r.get('/live', (_req, res) => {
    res.json({ status: 'up' });
  });
  r.get('/ready', async (_req, res) => {
    const checks: Record<string, { status: 'up' | 'down'; error?: string }> = {};
    try {
      await Promise.race([db.raw('select 1'), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout after 2 s')), 2000))]);
      checks.database = { status: 'up' };
    } catch (err) {
      checks.database = { status: 'down', error: (err as Error).message };
    }
    checks.bus = bus.healthy() ? { status: 'up' } : { status: 'down', error: `${bus.kind} bus not connected` };
    const down = Object.entries(checks).filter(([, c]) => c.status === 'down').map(([k]) => k);
    res.status(down.length ? 503 : 200).json({ status: down.length ? 'down' : 'up', down, checks });
  });
  return r;
}
