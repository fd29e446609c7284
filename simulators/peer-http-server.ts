import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';

/**
 * The listening side every HTTP-speaking peer shares. Calls can be held open on purpose (a peer told to time out
 * answers nothing); stop() cuts those too, so a test never waits on a peer that was told to stay silent.
 */
export class PeerHttpServer {
  private server?: http.Server;
  private readonly held = new Set<http.ServerResponse>();
  port = 0;

  /** Keeps the call unanswered until the caller gives up or the peer stops. */
  hold(res: http.ServerResponse): void {
    this.held.add(res);
    res.on('close', () => this.held.delete(res));
  }

  async listen(handler: http.RequestListener, port = 0, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** Makes the next N protocol calls fail in a chosen way; driven by `POST /_sim/<peer>/fail?mode=…&times=N`. */
export class FailureSwitch<M extends string> {
  private failure: { mode: M; remaining: number } | undefined;

  constructor(private readonly modes: readonly M[]) {}

  /** For GET /_sim/<peer>/: the failure still armed, or null. */
  get armed(): { mode: M; remaining: number } | null {
    return this.failure ?? null;
  }

  /** Arms the next `times` calls (0 clears it). */
  set(mode: M, times: number): void {
    this.failure = times > 0 ? { mode, remaining: times } : undefined;
  }

  /** The failure this call must show, if any; counts it down. */
  take(): M | undefined {
    if (!this.failure) return undefined;
    const { mode } = this.failure;
    if (--this.failure.remaining <= 0) this.failure = undefined;
    return mode;
  }

  route(): RequestHandler {
    return (req: express.Request, res: express.Response) => {
      const mode = String(req.query.mode ?? '500') as M;
      const times = Number(req.query.times ?? 1);
      if (!this.modes.includes(mode) || !Number.isInteger(times) || times < 0) {
        res.status(400).json({ error: `use ?times=N&mode=${this.modes.join('|')}` });
        return;
      }
      this.set(mode, times);
      res.json({ mode, times });
    };
  }
}
