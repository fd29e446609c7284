import type { Request, Response, Router } from 'express';
import express from 'express';
import { chinaNow } from '../china-time';
import { JsonApiPeer, JsonApiPeerOptions } from '../json-api/json-api-peer';
import { DrugRecord, seedDrugRecords } from './drug-catalogue';

export interface DrugDatabasePeerOptions extends JsonApiPeerOptions {
  /** API keys the database accepts in `X-Api-Key`. */
  apiKeys: string[];
  /** Start with the ~30 demo drugs. */
  seed?: boolean;
}

const MAX_PAGE_SIZE = 200;

/**
 * A licensed third-party drug database (药品说明书 / 药品字典 service) with a JSON web API behind an API key:
 * `GET /api/v1/drugs?page=&pageSize=` is the full export (every record not deleted, by drugId), and
 * `GET /api/v1/drugs/changes?changedSince=&page=&pageSize=` the records changed at or after that instant (deleted ones
 * included, flagged), by change time then drugId. Answers are `{code: 0, data: {total, page, pageSize, records}}`.
 * The database's editors are the control routes: change a record, withdraw it, delete it.
 */
export class DrugDatabasePeer extends JsonApiPeer {
  readonly name = 'drug-database';
  readonly description = 'Third-party drug database: 药品字典 + 说明书 full export and changedSince increments (JSON, API key)';
  readonly drugs = new Map<string, DrugRecord>();
  private lastChange = 0;

  constructor(private readonly options: DrugDatabasePeerOptions) {
    super(options);
    if (options.seed ?? true) for (const d of seedDrugRecords()) this.drugs.set(d.drugId, d);
  }

  protected routes(app: express.Express): void {
    app.use('/api/v1', (req, res, next) => {
      if (!this.options.apiKeys.includes(req.header('x-api-key') ?? '')) return this.refuse(res, 401, '401', '无效的 API Key');
      next();
    });
    app.get('/api/v1/drugs', (req, res) => this.page(req, res, [...this.drugs.values()].filter((d) => !d.deleted).sort((a, b) => a.drugId.localeCompare(b.drugId))));
    app.get('/api/v1/drugs/changes', (req, res) => {
      const since = Date.parse(String(req.query.changedSince ?? ''));
      if (Number.isNaN(since)) return this.refuse(res, 400, '400', 'changedSince 须为带时区的时间，如 2026-11-26T08:00:00+08:00');
      const changed = [...this.drugs.values()].filter((d) => Date.parse(d.changedAt) >= since)
        .sort((a, b) => Date.parse(a.changedAt) - Date.parse(b.changedAt) || a.drugId.localeCompare(b.drugId));
      this.page(req, res, changed);
    });
  }

  private page(req: Request, res: Response, records: DrugRecord[]): void {
    const page = Number(req.query.page ?? 1);
    const pageSize = Number(req.query.pageSize ?? 50);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      return this.refuse(res, 400, '400', `page 须为正整数，pageSize 须为 1～${MAX_PAGE_SIZE}`);
    }
    res.json({ code: 0, message: 'success', data: { total: records.length, page, pageSize, records: records.slice((page - 1) * pageSize, page * pageSize) } });
  }

  /** An editor's change: the record's fields and a fresh change time, strictly after the previous change. */
  change(drugId: string, patch: Partial<Omit<DrugRecord, 'drugId' | 'changedAt'>>): DrugRecord | undefined {
    const d = this.drugs.get(drugId);
    if (!d) return undefined;
    this.lastChange = Math.max(Date.now(), this.lastChange + 1);
    Object.assign(d, patch, { changedAt: chinaNow(this.lastChange) });
    return d;
  }

  protected override controlRoutes(r: Router): void {
    r.get('/drugs', (_req, res) => res.json([...this.drugs.values()]));
    r.get('/drugs/:id', (req, res) => {
      const d = this.drugs.get(req.params.id);
      return d ? void res.json(d) : void res.status(404).json({ error: `no drug ${req.params.id}` });
    });
    r.post('/drugs/:id', (req, res) => {
      const { drugId: _id, changedAt: _at, ...patch } = (req.body ?? {}) as Partial<DrugRecord>;
      const d = this.change(req.params.id, patch);
      return d ? void res.json(d) : void res.status(404).json({ error: `no drug ${req.params.id}` });
    });
    r.delete('/drugs/:id', (req, res) => {
      const d = this.change(req.params.id, { deleted: true });
      return d ? void res.json(d) : void res.status(404).json({ error: `no drug ${req.params.id}` });
    });
  }

  protected override status(): Record<string, unknown> {
    return { drugs: this.drugs.size };
  }
}

export function drugDatabasePeer(options: DrugDatabasePeerOptions): DrugDatabasePeer {
  return new DrugDatabasePeer(options);
}
