import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { SimulatedPeer } from './peer';

export interface RunningPeer {
  name: string;
  description: string;
  ports: Record<string, number>;
}

export interface SimulatorHost {
  /** The control port. */
  port: number;
  peers: RunningPeer[];
  stop(): Promise<void>;
}

/**
 * Starts every peer on its own protocol ports and serves their control routes on one port: `GET /_sim/` lists the
 * peers and ports, `/_sim/<name>/…` is the peer's own router. A peer that fails to start stops the host, so a demo
 * never runs with a peer silently missing.
 */
export async function startSimulatorHost(peers: SimulatedPeer[], options: { port: number; host?: string }): Promise<SimulatorHost> {
  const names = new Set<string>();
  for (const p of peers) {
    if (names.has(p.name)) throw new Error(`two simulated peers are named ${p.name}`);
    names.add(p.name);
  }
  const started: { peer: SimulatedPeer; running: RunningPeer }[] = [];
  try {
    for (const peer of peers) {
      const ports = await peer.start();
      started.push({ peer, running: { name: peer.name, description: peer.description, ports } });
    }
  } catch (err) {
    for (const s of started.reverse()) await s.peer.stop().catch(() => undefined);
    throw err;
  }
  const app = express();
  app.get('/_sim', (_req, res) => {
    res.json({ peers: started.map((s) => s.running) });
  });
  for (const { peer } of started) app.use(`/_sim/${peer.name}`, peer.control());
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    peers: started.map((s) => s.running),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of [...started].reverse()) await s.peer.stop().catch(() => undefined);
    },
  };
}
