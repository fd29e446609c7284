import type { Knex } from 'knex';
import { TurnBatch } from './turn-batch';

/**
 * Reads on PostgreSQL of one SQL text (a chart search's page, whatever its patient) that arrive in one turn of the
 * event loop run as one statement: the texts' parameters go in as arrays, one element per read, and the text runs
 * once per element beside them (`unnest … with ordinality` joined LATERAL), its rows tagged with their read's number.
 * On this kind of machine every statement costs a wake-up of a backend on the other core, which weighed more than
 * the search itself (as for reads by id, current-row-batch.ts). Each read sees what had committed when the statement
 * ran, as it would alone, and gets its rows in its own order.
 *
 * A text is batched only once PostgreSQL has told its parameter types (asked once per text, beside the first reads)
 * and none of them is an array, which unnest would flatten; until then, and for the others, reads run one by one.
 */

export type Rows = Array<Record<string, unknown>>;

export interface PgReadBatchPorts {
  /** Runs `text` with `values`, as a named statement where the store keeps plans. */
  run(text: string, values: unknown[]): Promise<Rows>;
  /** The parameter types of `text` as PostgreSQL resolves them (format_type names). */
  parameterTypes(text: string): Promise<string[]>;
}

interface Waiter {
  values: unknown[];
  resolve(rows: Rows): void;
  reject(err: unknown): void;
}

/** Most reads in one statement. */
const MAX_BATCH = 64;
/** Column that numbers a row's read; a search never selects it. */
const ORD = 'lingshu_batch_ord';
const ROW = 'lingshu_batch_row';
/** Texts whose types are known (a cast per parameter), not batchable (null), or being asked (a promise). */
const typesByText = new Map<string, string[] | null | Promise<void>>();
const TYPES_LIMIT = 2000;

export class PgReadBatcher {
  private readonly turn = new TurnBatch<string, Waiter>((byText) => this.flush(byText));

  constructor(private readonly ports: PgReadBatchPorts) {}

  rows(text: string, values: unknown[]): Promise<Rows> {
    return new Promise((resolve, reject) => this.turn.add(text, { values, resolve, reject }));
  }

  private flush(byText: Map<string, Waiter[]>): void {
    for (const [text, waiters] of byText) {
      const types = typesByText.get(text);
      if (waiters.length > 1 && Array.isArray(types)) {
        for (let i = 0; i < waiters.length; i += MAX_BATCH) void this.runBatch(text, types, waiters.slice(i, i + MAX_BATCH));
        continue;
      }
      if (types === undefined && waiters.length > 1) this.learnTypes(text);
      for (const w of waiters) this.ports.run(text, w.values).then(w.resolve, w.reject);
    }
  }

  private learnTypes(text: string): void {
    if (typesByText.size >= TYPES_LIMIT) return;
    const asking = this.ports.parameterTypes(text).then(
      (types) => { typesByText.set(text, types.some((t) => t.endsWith('[]')) ? null : types); },
      () => { typesByText.set(text, null); },
    );
    typesByText.set(text, asking);
  }

  private async runBatch(text: string, types: string[], waiters: Waiter[]): Promise<void> {
    try {
      const columns = types.map((_, k) => waiters.map((w) => w.values[k]));
      const rows = await this.ports.run(batchedText(text, types), columns);
      const byRead: Rows[] = waiters.map(() => []);
      for (const row of rows) {
        const read = Number(row[ORD]) - 1;
        delete row[ORD];
        delete row[ROW];
        byRead[read].push(row);
      }
      waiters.forEach((w, i) => w.resolve(byRead[i]));
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}

const batchedTexts = new Map<string, string>();

/**
 * `text` once per element of its parameters' arrays. row_number() keeps each read's rows in the order its own text
 * gave them (its ORDER BY), which the outer ORDER BY then holds whatever plan PostgreSQL picks.
 */
export function batchedText(text: string, types: string[]): string {
  let batched = batchedTexts.get(text);
  if (batched === undefined) {
    const params = types.map((_, k) => `p${k + 1}`);
    const inner = text.replace(/\$(\d+)/g, (_, k: string) => `b.p${k}`);
    batched = `select b.${ORD}, q.* from unnest(${types.map((t, k) => `$${k + 1}::${t}[]`).join(', ')}) with ordinality as b(${params.join(', ')}, ${ORD}) `
      + `cross join lateral (select q0.*, row_number() over () as ${ROW} from (${inner}) as q0) as q order by b.${ORD}, q.${ROW}`;
    if (batchedTexts.size < TYPES_LIMIT) batchedTexts.set(text, batched);
  }
  return batched;
}

/** Forgets what was learnt of texts' types (tests). */
export function forgetParameterTypes(): void {
  typesByText.clear();
  batchedTexts.clear();
}

const batchers = new WeakMap<Knex, PgReadBatcher>();

/** The batcher of `db` (a pool, never a transaction), one per pool. */
export function pgReadBatcherOf(db: Knex, ports: () => PgReadBatchPorts): PgReadBatcher {
  let batcher = batchers.get(db);
  if (!batcher) batchers.set(db, (batcher = new PgReadBatcher(ports())));
  return batcher;
}
