import { Knex } from 'knex';
import { v7 } from 'uuid';
import { KnexMessageStore } from '../../../engine/message-store/knex-message-store';
import type { NewMessage, StageRecord } from '../../../engine/message-store/types';
import { createTestDatabase, TestDatabase } from '../../support/databases';

export const HL7 = [
  'MSH|^~\\&|HIS|桃源院区|LIS|检验科|20240301120000||ADT^A01|MSG00001|P|2.5',
  'PID|1||123456^^^HIS^MR||张三^^^^^^L||19800101|M|||朝阳区建国路1号^^北京^^100000',
  'PV1|1|I|内科^301^1',
].join('\r');

let seq = 0;
export function channel(prefix: string): string {
  return `${prefix}-${++seq}`;
}

export function message(channelId: string, overrides: Partial<NewMessage> = {}, destinations = ['d1', 'd2']): NewMessage {
  const receivedAt = overrides.receivedAt ?? Date.now();
  const stages: StageRecord[] = [
    { name: 'source', kind: 'source', status: 'received', attempts: 1, updatedAt: receivedAt },
    { name: 'transformer', kind: 'transformer', status: 'transformed', content: 'out', attempts: 1, updatedAt: receivedAt },
    ...destinations.map((name): StageRecord => ({ name, kind: 'destination', status: 'pending', content: `to ${name}`, attempts: 0, updatedAt: receivedAt })),
  ];
  return {
    id: v7(), channelId, correlationId: v7(), status: 'queued', contentType: 'application/hl7-v2', encoding: 'utf-8',
    raw: 'x'.repeat(100), receivedAt, reprocessedFrom: null, stages, ...overrides,
  };
}

/** A migrated message store on its own database of `kind` for the describe block it is called in. */
export function messageStoreFixture(kind: TestDatabase['name']): { readonly db: Knex; readonly store: KnexMessageStore } {
  let tdb: TestDatabase;
  let db: Knex;
  let store: KnexMessageStore;

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    db = tdb.open();
    store = new KnexMessageStore(db);
    await store.migrate();
  });

  afterAll(async () => {
    await store?.close();
    await db?.destroy();
    await tdb?.drop();
  });

  return { get db() { return db; }, get store() { return store; } };
}

/** The SQL the store sent while `work` ran. */
export async function statementsOf(db: Knex, work: () => Promise<unknown>): Promise<string[]> {
  const statements: string[] = [];
  const seen = (q: { sql: string }) => statements.push(q.sql);
  db.on('query', seen);
  try {
    await work();
  } finally {
    db.off('query', seen);
  }
  return statements;
}
