import fs from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError } from 'cockatiel';
import { Agent, request } from 'undici';
import { z } from 'zod';

export const tlsClientSchema = z.object({
  /** PEM client certificate and key for peers that authenticate Lingshu by certificate (医保, regulator gateways). */
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
  /** The key's passphrase comes from the environment, never from the channel file. */
  passphraseEnv: z.string().optional(),
  /** PEM CA bundle for peers whose certificate is issued by a hospital or provincial CA. */
  caFile: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
}).strict();

export const circuitBreakerSchema = z.object({
  /** Failures in a row that open the circuit; while open, attempts fail at once without calling the peer. */
  consecutiveFailures: z.number().int().min(1).default(5),
  /** How long the circuit stays open before one trial call is let through. */
  halfOpenAfterMs: z.number().int().min(0).default(30_000),
}).strict();

export const httpPeerSchema = z.object({
  url: z.string().url(),
  method: z.enum(['POST', 'PUT', 'PATCH', 'GET', 'DELETE']).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  /** Whole exchange: connect, send, and the complete reply. */
  timeoutMs: z.number().int().min(1).default(30_000),
  tls: tlsClientSchema.optional(),
  circuitBreaker: circuitBreakerSchema.default({ consecutiveFailures: 5, halfOpenAfterMs: 30_000 }),
}).strict();

export type HttpPeerOptions = z.input<typeof httpPeerSchema>;

export interface HttpReply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A 4xx: the peer is up and refused this request. Not a peer failure, so it does not count towards the breaker. */
export class HttpClientError extends Error {
  constructor(readonly reply: HttpReply, message: string) {
    super(message);
    this.name = 'HttpClientError';
  }
}

const EXCERPT = 500;

function transportFailure(err: unknown, target: string, timeoutMs: number): Error {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new Error(`${target}: no complete reply within ${timeoutMs} ms`);
  }
  if (code === 'ECONNREFUSED') return new Error(`${target}: connection refused (ECONNREFUSED)`);
  return new Error(`${target}: ${e.message ?? String(err)}${code ? ` (${code})` : ''}`);
}

/**
 * One foreign HTTP endpoint: a connection pool (with client certificate when configured), a deadline per exchange,
 * and a circuit breaker (cockatiel) so that a peer that is down is not hammered by every queued retry.
 *
 * Every failure becomes an Error whose message says what happened in words an operator can act on; the caller
 * throws it on, the engine records it on the message and the destination queue policy retries.
 */
export class HttpPeer {
  private readonly o: z.infer<typeof httpPeerSchema>;
  private readonly agent: Agent;
  private readonly breaker;

  constructor(options: HttpPeerOptions) {
    this.o = httpPeerSchema.parse(options);
    const tls = this.o.tls;
    this.agent = new Agent({
      connect: tls ? {
        cert: tls.certFile ? fs.readFileSync(tls.certFile) : undefined,
        key: tls.keyFile ? fs.readFileSync(tls.keyFile) : undefined,
        passphrase: tls.passphraseEnv ? process.env[tls.passphraseEnv] : undefined,
        ca: tls.caFile ? fs.readFileSync(tls.caFile) : undefined,
        rejectUnauthorized: tls.rejectUnauthorized,
      } : undefined,
    });
    this.breaker = circuitBreaker(handleWhen((err) => !(err instanceof HttpClientError)), {
      halfOpenAfter: this.o.circuitBreaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(this.o.circuitBreaker.consecutiveFailures),
    });
  }

  get url(): string {
    return this.o.url;
  }

  /**
   * Sends `body` and returns a 2xx/3xx reply that passed `check`. Throws on transport failure, timeout, 5xx and on a
   * reply `check` rejects (all counted by the breaker), HttpClientError on 4xx, and at once while the circuit is open.
   */
  async exchange(body: string | Buffer | undefined, headers: Record<string, string>, check?: (reply: HttpReply) => void, url = this.o.url): Promise<HttpReply> {
    const target = `${this.o.method} ${url}`;
    try {
      return await this.breaker.execute(() => this.once(target, url, body, headers, check));
    } catch (err) {
      if (isBrokenCircuitError(err)) throw new Error(`${target}: circuit open after ${this.o.circuitBreaker.consecutiveFailures} failures in a row; not called`);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }

  private async once(target: string, url: string, body: string | Buffer | undefined, headers: Record<string, string>, check?: (reply: HttpReply) => void): Promise<HttpReply> {
    let reply: HttpReply;
    try {
      const res = await request(url, {
        method: this.o.method,
        headers: { ...this.o.headers, ...headers },
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      reply = { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    } catch (err) {
      throw transportFailure(err, target, this.o.timeoutMs);
    }
    const excerpt = reply.body.slice(0, EXCERPT);
    if (reply.status >= 500) throw new Error(`${target}: HTTP ${reply.status}: ${excerpt}`);
    if (reply.status >= 400) throw new HttpClientError(reply, `${target}: HTTP ${reply.status}: ${excerpt}`);
    try {
      check?.(reply);
    } catch (err) {
      throw new Error(`${target}: malformed reply (${(err as Error).message}): ${excerpt}`);
    }
    return reply;
  }
}
