import { Knex } from 'knex';
import type { ResourceType } from '@medplum/fhirtypes';
import { ContentCodec, plainJsonContent } from './content-codec';
import type { HistoryEntry, HistoryOptions, HistoryResult } from './repository';
import { invalidRequest } from './store-outcomes';
import { StoreDialect } from './store-dialect';

const DEFAULT_COUNT = 50;
const MAX_COUNT = 1000;

/** Position after the last entry of a page: newest first, so the next page holds only strictly older keys. */
type Cursor = [lastUpdated: string, resourceType: string, id: string, versionId: number];

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(c) && c.length === 4 && typeof c[0] === 'string' && typeof c[1] === 'string'
      && typeof c[2] === 'string' && Number.isInteger(c[3])) return c as Cursor;
  } catch {
    // reported below
  }
  throw invalidRequest('The history paging cursor is not one this server issued; start again from the first page.', '_cursor');
}

/** `since` as the stored text form (ISO instant with ms and Z), so that it compares as text. */
function normaliseSince(since: string): string {
  const t = Date.parse(since);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}T/.test(since)) {
    throw invalidRequest(`_since "${since}" is not an instant such as 2024-05-01T08:00:00Z.`, '_since');
  }
  return new Date(t).toISOString();
}

/**
 * Keyset condition "(last_updated, resource_type, id, version_id) < cursor" spelled out, because SQL Server and
 * Oracle have no row-value comparison.
 */
function olderThan(q: Knex.QueryBuilder, c: Cursor): void {
  q.where((w) => {
    w.where('last_updated', '<', c[0]).orWhere((a) => {
      a.where('last_updated', c[0]).andWhere((b) => {
        b.where('resource_type', '<', c[1]).orWhere((d) => {
          d.where('resource_type', c[1]).andWhere((e) => {
            e.where('id', '<', c[2]).orWhere((f) => f.where('id', c[2]).andWhere('version_id', '<', c[3]));
          });
        });
      });
    });
  });
}

export async function readHistory(
  db: Knex | Knex.Transaction,
  dialect: StoreDialect,
  resourceType: ResourceType | undefined,
  id: string | undefined,
  options: HistoryOptions = {},
  codec: ContentCodec = plainJsonContent,
): Promise<HistoryResult> {
  const count = Math.min(MAX_COUNT, Math.max(1, options.count ?? DEFAULT_COUNT));
  const q = db('fhir_history').select('resource_type', 'id', 'version_id', 'last_updated', 'deleted', 'method', 'content');
  if (resourceType) q.where('resource_type', resourceType);
  if (resourceType && id) q.where('id', id);
  if (options.since) q.where('last_updated', '>=', normaliseSince(options.since));
  if (options.cursor) olderThan(q, decodeCursor(options.cursor));
  q.orderBy([
    { column: 'last_updated', order: 'desc' },
    { column: 'resource_type', order: 'desc' },
    { column: 'id', order: 'desc' },
    { column: 'version_id', order: 'desc' },
  ]).limit(count + 1);
  const rows = await q;
  const page = rows.slice(0, count);
  const entries: HistoryEntry[] = page.map((r) => {
    const deleted = dialect.bool(r.deleted);
    return {
      resourceType: r.resource_type,
      id: r.id,
      versionId: String(r.version_id),
      lastUpdated: r.last_updated,
      method: r.method,
      ...(deleted ? {} : { resource: codec.decode(r.content) }),
    };
  });
  const last = page[page.length - 1];
  return {
    entries,
    ...(rows.length > count ? { next: encodeCursor([last.last_updated, last.resource_type, last.id, Number(last.version_id)]) } : {}),
  };
}
