import http from 'node:http';
import net from 'node:net';

/** What the peer does with one request: answer, never answer, or answer with bytes that are not HTTP. */
export type PeerReply = { status: number; body: string; contentType?: string } | 'hang' | 'garbage';

export interface ReceivedRequest {
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server standing in for a foreign web API. Each path plays its script one reply per request; the last
 * reply repeats. Hanging sockets are destroyed on close so that the test process exits.
 */
export class ScriptedHttpPeer {
  readonly requests: ReceivedRequest[] = [];
  private readonly scripts = new Map<string, PeerReply[]>();
  private readonly sockets = new Set<net.Socket>();
  private server?: http.Server;
  port = 0;

  script(path: string, ...replies: PeerReply[]): string {
    this.scripts.set(path, replies);
    return `http://127.0.0.1:${this.port}${path}`;
  }

  received(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async listen(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0];
        this.requests.push({ path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const script = this.scripts.get(path) ?? [{ status: 404, body: 'no script' }];
        const reply = script.length > 1 ? script.shift()! : script[0];
        if (reply === 'hang') return;
        if (reply === 'garbage') {
          req.socket.end('\x00\x01 this is not HTTP \r\n\r\n');
          return;
        }
        res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json' }).end(reply.body);
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
