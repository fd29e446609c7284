import { badRequest, OperationOutcomeError, type SearchRequest } from '@medplum/core';
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { SearchResult } from '../store/repository';
import { AUDIT_TABLE } from './audit-log';

/**
 * `GET /fhir/AuditEvent?…` for holders of the audit function: the audit log is not in fhir_resources (it must not be
 * writable through the FHIR API, and a read must not create versions), so its search parameters are answered here,
 * newest first, paged by seq.
 */
const MAX_COUNT = 1000;
const DATE = /^(eq|ne|gt|lt|ge|le|sa|eb)?(\d{4}(-\d{2}(-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)$/;

function refused(diagnostics: string, param: string): OperationOutcomeError {
  const outcome = badRequest(diagnostics, param);
  outcome.issue = outcome.issue?.map((i) => ({ ...i, diagnostics }));
  return new OperationOutcomeError(outcome);
}

/** `db` is the caller's transaction when there is one (SQLite has a single connection). */
export async function searchAuditLog(db: Knex | Knex.Transaction, request: SearchRequest): Promise<SearchResult> {
  const q = db(AUDIT_TABLE).select('seq', 'content');
  for (const f of request.filters ?? []) {
    const values = f.value.split(',');
    switch (f.code) {
      case '_id': q.whereIn('seq', values.filter((v) => /^\d{1,18}$/.test(v)).map(Number)); break;
      case 'agent': q.whereIn('agent', values); break;
      case 'entity': q.whereIn('entity', values); break;
      case 'patient': q.where((b) => values.forEach((v) => b.orWhere('patients', 'like', `%|${v.includes('/') ? v : `Patient/${v}`}|%`))); break;
      case 'action': q.whereIn('action', values); break;
      case 'outcome': q.whereIn('outcome', values); break;
      case 'subtype': q.whereIn('subtype', values.map((v) => v.split('|').pop() ?? v)); break;
      case 'date': {
        const m = DATE.exec(`${f.operator === 'eq' ? '' : f.operator}${f.value}`) ?? DATE.exec(f.value);
        if (!m) throw refused(`date must be a date or instant with an optional prefix (got "${f.value}")`, 'date');
        const op = ({ gt: '>', ge: '>=', lt: '<', le: '<=', sa: '>', eb: '<' } as Record<string, string>)[f.operator] ?? (f.operator === 'eq' ? 'like' : undefined);
        if (!op) throw refused(`date does not take "${f.operator}" here`, 'date');
        if (op === 'like') q.where('recorded', 'like', `${m[2]}%`);
        else q.where('recorded', op, op.startsWith('>') ? m[2] : m[2].length === 10 ? `${m[2]}T23:59:59.999Z` : m[2]);
        break;
      }
      default: throw refused(`AuditEvent search supports _id, agent, entity, patient, action, outcome, subtype and date, not "${f.code}"`, f.code);
    }
  }
  const count = Math.min(Math.max(request.count ?? 20, 0), MAX_COUNT);
  let total: number | undefined;
  if (request.total === 'accurate' || count === 0) {
    const [row] = await q.clone().clearSelect().count({ n: '*' });
    total = Number((row as { n: unknown }).n);
  }
  if (count === 0) return { resources: [], included: [], total };
  if (request.cursor) {
    if (!/^\d{1,18}$/.test(request.cursor)) throw refused('_cursor is not one this server gave out', '_cursor');
    q.where('seq', '<', Number(request.cursor));
  }
  const rows = await q.orderBy('seq', 'desc').limit(count + 1);
  const page = rows.slice(0, count);
  return {
    resources: page.map((r) => JSON.parse(r.content) as AuditEvent),
    included: [],
    total,
    ...(rows.length > count ? { next: String(page[page.length - 1].seq) } : {}),
  };
}
