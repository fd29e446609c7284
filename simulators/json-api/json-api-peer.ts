import express, { NextFunction, Request, Response, Router } from 'express';
import type { SimulatedPeer } from '../peer';
import { FailureSwitch, PeerHttpServer } from '../peer-http-server';

export type FailureMode = 'timeout' | '500' | 'malformed';
export const FAILURE_MODES: readonly FailureMode[] = ['timeout', '500', 'malformed'];

export interface JsonApiPeerOptions {
  /** Protocol port; 0 = any free port. */
  port?: number;
  host?: string;
}

/** One call the peer took on its protocol port, as the control route lists it. */
export interface ReceivedRequest {
  at: string;
  method: string;
  path: string;
  body: unknown;
  status: number;
  /** What the peer made of it: accepted, the refusal reason, or the failure it was told to simulate. */
  outcome: string;
}

/** One call the peer made itself (a callback, a delivery receipt) and what came back. */
export interface SentRequest {
  at: string;
  url: string;
  body: unknown;
  status?: number;
  answer?: string;
  error?: string;
}

const KEEP = 200;

/**
 * The common half of the simulated JSON web API peers (医技预约, 处方流转, pharmacy, regulator, SMS gateway): one HTTP
 * port for the protocol, the bodies kept as raw bytes beside the parsed JSON (signatures are over the exact bytes),
 * every call recorded, and failure injection that happens before the peer's own routes so that a failed call changes
 * no state — as a real peer's crashed front end would not.
 */
export abstract class JsonApiPeer implements SimulatedPeer {
  abstract readonly name: string;
  abstract readonly description: string;
  readonly received: ReceivedRequest[] = [];
  readonly sent: SentRequest[] = [];
  private readonly failures = new FailureSwitch<FailureMode>(FAILURE_MODES);
  private readonly http = new PeerHttpServer();

  protected get port(): number {
    return this.http.port;
  }

  constructor(protected readonly listenOn: JsonApiPeerOptions = {}) {}

  get url(): string {
    return `http://${this.listenOn.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** The peer's protocol routes; bodies arrive parsed in req.body, raw bytes in res.locals.raw. */
  protected abstract routes(app: express.Express): void;

  /** Extra control routes (drive the peer, read its state), mounted beside the common ones. */
  protected controlRoutes(_r: Router): void {}

  /** How this peer says "your request is not usable", in its own dialect. */
  protected refuse(res: Response, status: number, code: string, message: string): void {
    res.locals.outcome = `refused: ${message}`;
    res.status(status).json({ code, message });
  }

  /** A 500 as this kind of peer sends it. */
  protected serverError(res: Response): void {
    res.status(500).json({ code: '500', message: '系统繁忙，请稍后重试 (simulated)' });
  }

  /** A reply cut off mid-object, as a gateway that drops the connection after a fixed buffer sends it. */
  protected malformedReply(res: Response): void {
    res.status(200).type('application/json; charset=utf-8').send('{"code":"0","data":{"id":"');
  }

  async start(): Promise<Record<string, number>> {
    const app = express();
    app.use(express.raw({ type: () => true, limit: '5mb' }));
    app.use((req, res, next) => this.recordAndParse(req, res, next));
    app.use((req, res, next) => this.injectFailure(req, res, next));
    this.routes(app);
    app.use((req: Request, res: Response) => this.refuse(res, 404, '404', `no route ${req.method} ${req.path}`));
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.locals.outcome = `error: ${err.message}`;
      if (!res.headersSent) this.serverError(res);
    });
    return { http: await this.http.listen(app, this.listenOn.port ?? 0, this.listenOn.host ?? '127.0.0.1') };
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  /** Makes the next `times` protocol calls fail the given way (0 clears it). */
  fail(mode: FailureMode, times: number): void {
    this.failures.set(mode, times);
  }

  control(): Router {
    const r = express.Router();
    r.use(express.json({ limit: '1mb' }));
    r.get('/', (_req, res) => res.json({ name: this.name, url: this.url, failure: this.failures.armed, ...this.status() }));
    r.get('/received', (_req, res) => res.json(this.received));
    r.get('/sent', (_req, res) => res.json(this.sent));
    r.post('/fail', this.failures.route());
    this.controlRoutes(r);
    return r;
  }

  /** False for the routes that take another body than JSON (a SOAP service beside the API): they get the raw bytes. */
  protected takesJson(_req: Request): boolean {
    return true;
  }

  /** Settings worth showing on GET /_sim/<name>/ (URLs to call back, app ids). */
  protected status(): Record<string, unknown> {
    return {};
  }

  /** POSTs JSON to a callback URL and records the exchange; never throws, since the caller is a control route or a timer. */
  protected async post(url: string, body: unknown, headers: Record<string, string> = {}, raw?: string): Promise<SentRequest> {
    const text = raw ?? JSON.stringify(body);
    const entry: SentRequest = { at: new Date().toISOString(), url, body };
    try {
      const res = await fetch(url, {
        method: 'POST', body: text, signal: AbortSignal.timeout(10_000),
        headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      });
      entry.status = res.status;
      entry.answer = (await res.text()).slice(0, 2000);
    } catch (err) {
      entry.error = (err as Error).message;
    }
    this.sent.push(entry);
    if (this.sent.length > KEEP) this.sent.shift();
    return entry;
  }

  private recordAndParse(req: Request, res: Response, next: NextFunction): void {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // Taken now: a router mounted on a sub-path (a SOAP service) rewrites req.path while the request is handled.
    const path = req.path;
    res.locals.raw = raw;
    let body: unknown;
    let parsed = true;
    if (!this.takesJson(req)) {
      req.body = raw;
      body = raw.toString('utf8').slice(0, 2000);
    } else if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        parsed = false;
        body = raw.toString('utf8').slice(0, 500);
      }
    }
    if (this.takesJson(req)) req.body = body;
    const record = () => {
      this.received.push({
        at: new Date().toISOString(), method: req.method, path, body,
        status: res.headersSent ? res.statusCode : 0, outcome: String(res.locals.outcome ?? (res.statusCode < 400 ? 'accepted' : `HTTP ${res.statusCode}`)),
      });
      if (this.received.length > KEEP) this.received.shift();
    };
    res.once('finish', record);
    res.once('close', () => { if (!res.writableFinished) record(); });
    if (!parsed && !this.failures.armed) return this.refuse(res, 400, '400', 'body is not JSON');
    next();
  }

  private injectFailure(_req: Request, res: Response, next: NextFunction): void {
    const mode = this.failures.take();
    if (!mode) return next();
    res.locals.outcome = `simulated ${mode}`;
    if (mode === 'timeout') {
      // Never answers; the socket is destroyed on stop.
      this.http.hold(res);
      return;
    }
    if (mode === '500') return this.serverError(res);
    this.malformedReply(res);
  }
}
