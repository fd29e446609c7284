import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationRequest } from '../../../adapters/payment/payment-gateway';

/**
 * A notify_url for gateway tests: keeps each notification as it arrived (headers and raw bytes) and acknowledges it,
 * so the test can hand it to parseNotification itself.
 */
export class NotificationCatcher {
  readonly received: NotificationRequest[] = [];
  private server?: http.Server;
  url = '';

  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        this.received.push({ headers, body: Buffer.concat(chunks), contentType: req.headers['content-type'] });
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('success');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/notify`;
  }

  /** The last notification received, removed from the list. */
  take(): NotificationRequest {
    const n = this.received.pop();
    if (!n) throw new Error('no notification arrived');
    this.received.length = 0;
    return n;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
