/**
 * Open-loop HTTP load at a constant arrival rate: request k is due at start + k/rate and its latency is counted from
 * that due time, so a slow server cannot slow the offered load down (no coordinated omission).
 *
 * Why not autocannon's overallRate: it lets each connection send its whole per-second quota at the start of every
 * second, so "500/s" arrives as a burst of 500 requests once a second, and p99 then measures how long the server
 * takes to work through a second's burst, not its latency at 500 messages/s.
 *
 * The client is raw keep-alive sockets writing one pre-encoded request each: node:http's client cost ~0.45 ms of CPU
 * per request here, on the same two cores as the server it measures.
 */
import net from 'node:net';

export interface PacedLoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Requests per second, evenly spaced. */
  rate: number;
  seconds: number;
  /** Keep-alive connections; a request due while all are busy waits for one, and that wait counts. */
  connections: number;
}

export interface PacedLoadResult {
  /** 2xx answers. */
  ok: number;
  failed: number;
  /** Failures by HTTP status or socket error code. */
  failures: Record<string, number>;
  /** Due time → response end, ms, sorted ascending. */
  latencies: number[];
}

interface Conn {
  socket: net.Socket;
  due?: number;
  buffered: Buffer;
}

export async function pacedLoad(o: PacedLoadOptions): Promise<PacedLoadResult> {
  const url = new URL(o.url);
  const body = Buffer.from(o.body, 'utf8');
  const head = [`POST ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: keep-alive', `Content-Length: ${body.length}`,
    ...Object.entries(o.headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  const request = Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  const fail = (why: string) => { failed++; failures[why] = (failures[why] ?? 0) + 1; };
  const idle: Conn[] = [];
  const backlog: number[] = [];
  const send = (c: Conn, due: number) => {
    c.due = due;
    c.socket.write(request);
  };
  const onData = (c: Conn, chunk: Buffer) => {
    c.buffered = c.buffered.length ? Buffer.concat([c.buffered, chunk]) : chunk;
    const end = c.buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const header = c.buffered.subarray(0, end).toString('latin1');
    const length = Number(/content-length:\s*(\d+)/i.exec(header)?.[1] ?? 0);
    if (c.buffered.length < end + 4 + length) return;
    c.buffered = c.buffered.subarray(end + 4 + length);
    const status = Number(header.slice(9, 12));
    if (status >= 200 && status < 300) ok++;
    else fail(String(status));
    latencies.push(performance.now() - c.due!);
    c.due = undefined;
    const next = backlog.shift();
    if (next !== undefined) send(c, next);
    else idle.push(c);
  };
  const conns = await Promise.all(Array.from({ length: o.connections }, () => new Promise<Conn>((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => resolve(c));
    const c: Conn = { socket, buffered: Buffer.alloc(0) };
    socket.setNoDelay(true);
    socket.on('data', (chunk) => onData(c, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => { fail(err.code ?? err.message); reject(err); });
  })));
  idle.push(...conns);
  const start = performance.now();
  const total = Math.round(o.rate * o.seconds);
  let k = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      for (; k < total; k++) {
        const due = start + (k * 1000) / o.rate;
        if (due > now) break;
        // Oldest idle first: every connection stays in use, so none meets the server's keep-alive timeout.
        const c = idle.shift();
        if (c) send(c, due);
        else backlog.push(due);
      }
      if (k >= total) done();
      else setTimeout(tick, Math.max(0, start + (k * 1000) / o.rate - performance.now()));
    };
    tick();
  });
  const until = Date.now() + 120_000;
  while ((backlog.length || idle.length < conns.length) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < backlog.length + conns.filter((c) => c.due !== undefined).length; i++) fail('unanswered');
  for (const c of conns) c.socket.destroy();
  latencies.sort((a, b) => a - b);
  return { ok, failed, failures, latencies };
}
