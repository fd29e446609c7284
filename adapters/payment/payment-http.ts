import { Agent, request } from 'undici';

/**
 * No usable answer from the gateway: unreachable, too slow, a 5xx, an answer whose signature does not verify or that
 * does not parse. The outcome of the call is unknown: retry later, or query to find out (a create or refund may have
 * happened). Distinct from PaymentGatewayError, where the gateway answered and refused.
 */
export class PaymentTransportError extends Error {
  constructor(
    readonly channel: string,
    readonly kind: 'unreachable' | 'timeout' | 'server-error' | 'signature' | 'malformed',
    message: string,
  ) {
    super(`${channel}: ${message}`);
    this.name = 'PaymentTransportError';
  }
}

export interface GatewayReply {
  status: number;
  /** Lower-case names; repeated headers joined by ", ". */
  headers: Record<string, string>;
  /** The raw bytes: signatures are over them. */
  body: Buffer;
}

/** One gateway host: a keep-alive pool and a deadline on each whole exchange (connect, send, complete answer). */
export class PaymentHttp {
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connectTimeout: 10_000 });

  constructor(private readonly channel: string, private readonly timeoutMs: number) {}

  async send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: string): Promise<GatewayReply> {
    const target = `${method} ${new URL(url).pathname}`;
    try {
      const res = await request(url, { method, headers, body, dispatcher: this.agent, signal: AbortSignal.timeout(this.timeoutMs) });
      const bytes = Buffer.from(await res.body.arrayBuffer());
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      if (res.statusCode >= 500) {
        throw new PaymentTransportError(this.channel, 'server-error', `${target}: HTTP ${res.statusCode}: ${bytes.toString('utf8').slice(0, 300)}`);
      }
      return { status: res.statusCode, headers: h, body: bytes };
    } catch (err) {
      if (err instanceof PaymentTransportError) throw err;
      const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
      const code = e.code ?? e.cause?.code;
      if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
        throw new PaymentTransportError(this.channel, 'timeout', `${target}: no complete answer within ${this.timeoutMs} ms`);
      }
      throw new PaymentTransportError(this.channel, 'unreachable', `${target}: ${e.message ?? String(err)}${code ? ` (${code})` : ''}`);
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}
