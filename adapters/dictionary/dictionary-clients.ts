import { z } from 'zod';
import { DictionaryFeed, feedRow, getJson } from './dictionary-feed';

export const hisDictionarySchema = z.object({
  /** The HIS dictionary view's base URL; its tables at `<url>/charge-items` and `<url>/drugs`. */
  url: z.string().url(),
  pageSize: z.number().int().min(1).max(500).default(100),
  timeoutMs: z.number().int().positive().default(30_000),
});

const hisPage = z.object({ items: z.array(z.unknown()), nextCursor: z.string().optional() });

/** The HIS's view of one dictionary table (`charge-items` or `drugs`), keyed by `code`, changed at `updatedAt`. */
export function hisDictionaryFeed(name: 'his-charge-items' | 'his-drugs', options: z.input<typeof hisDictionarySchema>): DictionaryFeed {
  const o = hisDictionarySchema.parse(options);
  const table = name === 'his-charge-items' ? 'charge-items' : 'drugs';
  return {
    name,
    async page({ changedSince, next }) {
      const qs = new URLSearchParams({ pageSize: String(o.pageSize) });
      if (changedSince) qs.set('updatedSince', changedSince.toISOString());
      if (next) qs.set('cursor', next);
      const url = `${o.url.replace(/\/$/, '')}/${table}?${qs}`;
      const parsed = hisPage.safeParse(await getJson(url, {}, o.timeoutMs));
      if (!parsed.success) throw new Error(`GET ${url.split('?')[0]}: not a page of the HIS dictionary view: ${parsed.error.issues[0]?.message}`);
      return { rows: parsed.data.items.map((r) => feedRow(r, 'code', 'updatedAt', `HIS ${table}`)), next: parsed.data.nextCursor };
    },
  };
}

export const drugDatabaseSchema = z.object({
  /** The database's base URL; its API under `<url>/api/v1`. */
  url: z.string().url(),
  /** From the environment or a file outside the repository: the licence key the vendor issued. */
  apiKey: z.string().min(1),
  pageSize: z.number().int().min(1).max(200).default(100),
  timeoutMs: z.number().int().positive().default(30_000),
});

const databasePage = z.object({
  code: z.literal(0),
  data: z.object({ total: z.number().int(), page: z.number().int(), pageSize: z.number().int(), records: z.array(z.unknown()) }),
});

/**
 * The third-party drug database: the full export by page number, and `changes?changedSince=` for increments. Its
 * records are keyed by `drugId` and changed at `changedAt`.
 */
export function drugDatabaseFeed(options: z.input<typeof drugDatabaseSchema>): DictionaryFeed {
  const o = drugDatabaseSchema.parse(options);
  return {
    name: 'drug-database',
    async page({ changedSince, next }) {
      const page = Number(next ?? 1);
      const qs = new URLSearchParams({ page: String(page), pageSize: String(o.pageSize) });
      if (changedSince) qs.set('changedSince', changedSince.toISOString());
      const url = `${o.url.replace(/\/$/, '')}/api/v1/drugs${changedSince ? '/changes' : ''}?${qs}`;
      const parsed = databasePage.safeParse(await getJson(url, { 'x-api-key': o.apiKey }, o.timeoutMs));
      if (!parsed.success) throw new Error(`GET ${url.split('?')[0]}: not a page of the drug database: ${parsed.error.issues[0]?.message}`);
      const { records, total } = parsed.data.data;
      return {
        rows: records.map((r) => feedRow(r, 'drugId', 'changedAt', 'drug database')),
        next: records.length > 0 && page * o.pageSize < total ? String(page + 1) : undefined,
      };
    },
  };
}
