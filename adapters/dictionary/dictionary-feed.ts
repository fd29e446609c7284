import { z } from 'zod';

/** One row of a dictionary feed, with what the sync needs to know about it: its key and when the source changed it. */
export interface FeedRow {
  key: string;
  changedAt: Date;
  row: Record<string, unknown>;
}

export interface FeedPage {
  rows: FeedRow[];
  /** Opaque: where the next page starts; absent on the last page. */
  next?: string;
}

/**
 * A dictionary at a source, read in pages: in full, or the rows changed at or after an instant (inclusive: a source
 * whose clock has only seconds sends every row of that second again, and the sync drops the ones it already has).
 */
export interface DictionaryFeed {
  /** Names the feed in messages (`{feed, row}`) and in the durable mark. */
  readonly name: string;
  page(request: { changedSince?: Date; next?: string }): Promise<FeedPage>;
}

/** GET a JSON document with a deadline; anything but a 2xx with JSON is an error naming the URL and the answer. */
export async function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<unknown> {
  const shown = url.split('?')[0];
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`GET ${shown}: ${(err as Error).message}`);
  }
  const text = await res.text().catch((err: Error) => `(body unreadable: ${err.message})`);
  if (!res.ok) throw new Error(`GET ${shown}: HTTP ${res.status} ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`GET ${shown}: the answer is not JSON: ${text.slice(0, 100)}`);
  }
}

/** The two fields every row must have for the sync to page and mark; the rest is the mapping's to check. */
export function feedRow(row: unknown, keyField: string, timeField: string, where: string): FeedRow {
  const parsed = z.object({ [keyField]: z.string().min(1), [timeField]: z.string() }).passthrough().safeParse(row);
  const changedAt = parsed.success ? new Date(String(parsed.data[timeField])) : undefined;
  if (!parsed.success || !changedAt || Number.isNaN(changedAt.getTime())) {
    throw new Error(`${where}: a row without a usable ${keyField} and ${timeField}: ${JSON.stringify(row).slice(0, 200)}`);
  }
  return { key: String(parsed.data[keyField]), changedAt, row: parsed.data as Record<string, unknown> };
}
