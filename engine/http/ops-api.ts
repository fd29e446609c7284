import express, { Request, Response, NextFunction, Router } from 'express';
import type { MessageStatus, MessageStore } from '../message-store/types';
import { ChannelDefinitionError } from '../channel/channel';
import { maskStoredMessage } from '../message-masking/message-masking';
import { Engine, EngineError } from '../runtime/engine';

const STATUSES: MessageStatus[] = ['received', 'filtered', 'transformed', 'queued', 'sent', 'error'];

function time(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const s = String(v);
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (Number.isNaN(n)) throw new EngineError(400, `${name}: not a time (ISO 8601 or epoch milliseconds): ${s}`);
  return n;
}

/**
 * How the message browser shows message content to the caller. The authentication in front of /api decides (the
 * engine knows no users) and puts it on `res.locals` with `setMessageView`. Without a decision content is masked:
 * the engine never shows patient identifiers to a caller nobody vouched for. A raw view is recorded before it is
 * sent, and not sent when it could not be recorded.
 */
export type MessageView = { raw: false } | { raw: true; recordRawView(messageIds: string[]): Promise<void> };

const MESSAGE_VIEW = 'lingshuMessageView';

export function setMessageView(res: Response, view: MessageView): void {
  res.locals[MESSAGE_VIEW] = view;
}

function messageViewOf(res: Response): MessageView {
  const view = res.locals[MESSAGE_VIEW] as MessageView | undefined;
  return view?.raw === true && typeof view.recordRawView === 'function' ? view : { raw: false };
}

/**
 * The engine's operations API (/api): channels with state, counters and rates; the message browser; reprocess;
 * deploy / undeploy / pause / resume. `redeploy` re-reads a channel's definition through `reload` (YAML or code).
 */
export function opsApi(engine: Engine, store: MessageStore, reload: (id: string) => Promise<void>): Router {
  const api = Router();
  api.use(express.json({ limit: '1mb' }));

  const channelView = async () => {
    const counts = new Map((await store.counts()).map((c) => [c.channelId, c]));
    return engine.list().map((c) => {
      const stored = counts.get(c.id);
      const live = engine.stats.snapshot(c.id);
      return {
        ...c,
        // Totals come from the message store, so they survive restarts and agree across nodes; rates are this node's.
        counters: stored
          ? { received: stored.received, filtered: stored.filtered, queued: stored.queued, sent: stored.sent, errored: stored.error }
          : { received: 0, filtered: 0, queued: 0, sent: 0, errored: 0 },
        rates: live.rates,
      };
    });
  };

  api.get('/channels', async (_req, res) => {
    res.json(await channelView());
  });

  api.get('/channels/:id', async (req, res) => {
    const c = (await channelView()).find((x) => x.id === req.params.id);
    if (!c) throw new EngineError(404, `channel ${req.params.id} is not deployed`);
    res.json(c);
  });

  api.post('/channels/:id/deploy', async (req, res) => {
    await reload(String(req.params.id));
    res.json({ id: req.params.id, state: 'started' });
  });

  api.post('/channels/:id/undeploy', async (req, res) => {
    await engine.undeploy(String(req.params.id));
    res.json({ id: req.params.id, state: 'stopped' });
  });

  api.post('/channels/:id/pause', (req, res) => {
    engine.pause(String(req.params.id));
    res.json({ id: req.params.id, state: 'paused' });
  });

  api.post('/channels/:id/resume', (req, res) => {
    engine.resume(String(req.params.id));
    res.json({ id: req.params.id, state: 'started' });
  });

  // The list carries no content (ids, channel, status, times, size); `q` searches the stored, unmasked content, so an
  // engineer can find the messages of a patient whose ID number they were given, without seeing anyone's.
  api.get('/messages', async (req, res) => {
    const q = req.query;
    const status = q.status ? String(q.status) : undefined;
    if (status && !STATUSES.includes(status as MessageStatus)) throw new EngineError(400, `status: one of ${STATUSES.join(', ')}`);
    const limit = q.limit ? Number(q.limit) : undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 500)) throw new EngineError(400, 'limit: an integer from 1 to 500');
    const page = await store.search({
      channel: q.channel ? String(q.channel) : undefined,
      status: status as MessageStatus | undefined,
      from: time(q.from, 'from'),
      to: time(q.to, 'to'),
      correlationId: q.correlationId ? String(q.correlationId) : undefined,
      q: q.q ? String(q.q) : undefined,
      limit,
      cursor: q.cursor ? String(q.cursor) : undefined,
    });
    res.json(page);
  });

  api.get('/messages/:id', async (req, res) => {
    const m = await store.get(String(req.params.id));
    if (!m) throw new EngineError(404, `message ${req.params.id} not found`);
    const view = messageViewOf(res);
    if (!view.raw) {
      res.json(maskStoredMessage(m));
      return;
    }
    await view.recordRawView([m.id]);
    res.json({ ...m, contentMasked: false });
  });

  api.post('/messages/:id/reprocess', async (req, res) => {
    const body = (req.body ?? {}) as { destinations?: unknown };
    if (body.destinations !== undefined && (!Array.isArray(body.destinations) || body.destinations.some((d) => typeof d !== 'string'))) {
      throw new EngineError(400, 'destinations: an array of destination names');
    }
    res.status(202).json(await engine.reprocess(String(req.params.id), body.destinations as string[] | undefined));
  });

  api.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof EngineError) res.status(err.status).json({ error: err.message });
    else if (err instanceof ChannelDefinitionError) res.status(400).json({ error: err.message, file: err.origin, channel: err.channelId, field: err.field });
    else if ((err as { type?: string }).type === 'entity.parse.failed') res.status(400).json({ error: 'request body is not valid JSON' });
    else res.status(500).json({ error: 'internal error' });
  });
  return api;
}
