import { Knex } from 'knex';
import { v7 } from 'uuid';
import { isUniqueViolation } from '../../../engine/db';
import { KnexMessageStore } from '../../../engine/message-store/knex-message-store';
import { DAY_MS } from '../../../engine/message-store/message-store-schema';
import type { NewMessage, StageRecord } from '../../../engine/message-store/types';
import { ALL_DATABASES, createTestDatabase, TestDatabase } from '../../support/databases';


const HL7 = [
  'MSH|^~\\&|HIS|桃源院区|LIS|检验科|20240301120000||ADT^A01|MSG00001|P|2.5',
  'PID|1||123456^^^HIS^MR||张三^^^^^^L||19800101|M|||朝阳区建国路1号^^北京^^100000',
  'PV1|1|I|内科^301^1',
].join('\r');

let seq = 0;
function channel(prefix: string): string {
  return `${prefix}-${++seq}`;
}

function message(channelId: string, overrides: Partial<NewMessage> = {}, destinations = ['d1', 'd2']): NewMessage {
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

describe.each(ALL_DATABASES)('KnexMessageStore on %s', (kind) => {
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

  test('migrate is idempotent', async () => {
    await store.migrate();
    await new KnexMessageStore(db).migrate();
  });

  test('insert then get round-trips Chinese HL7 content exactly, stages in order', async () => {
    const m = message(channel('rt'), { raw: HL7 + '\r😀', correlationId: 'MSG00001' }, ['his-out', 'a-lis']);
    m.stages[2].content = '患者：张三';
    await store.insert(m);
    const got = await store.get(m.id);
    expect(got).toBeDefined();
    expect(got!.raw).toBe(HL7 + '\r😀');
    expect(got!.stages.map((s) => s.name)).toEqual(['source', 'transformer', 'his-out', 'a-lis']);
    expect(got!.stages[2]).toEqual({ name: 'his-out', kind: 'destination', status: 'pending', content: '患者：张三', response: null, error: null, attempts: 0, updatedAt: m.receivedAt });
    expect(got).toMatchObject({
      id: m.id, channelId: m.channelId, correlationId: 'MSG00001', status: 'queued', contentType: 'application/hl7-v2', encoding: 'utf-8',
      receivedAt: m.receivedAt, updatedAt: m.receivedAt, reprocessedFrom: null, contentPruned: false, errors: [],
    });
    expect(await store.get(v7())).toBeUndefined();
    expect(await store.stageStatus(m.id, 'a-lis')).toBe('pending');
    expect(await store.stageStatus(m.id, 'nope')).toBeUndefined();
    const page = await store.search({ channel: m.channelId });
    expect(page.messages[0].size).toBe(Buffer.byteLength(HL7 + '\r😀', 'utf8'));
    expect(page.messages[0]).not.toHaveProperty('raw');
  });

  test('a reprocessed message keeps its link', async () => {
    const original = message(channel('rp'));
    const again = message(original.channelId, { reprocessedFrom: original.id });
    await store.insert(original);
    await store.insert(again);
    expect((await store.get(again.id))!.reprocessedFrom).toBe(original.id);
  });

  test('concurrent inserts are all stored, group-committed in few transactions', async () => {
    const ch = channel('bulk');
    const before = { ...store.writeStats };
    const messages = Array.from({ length: 500 }, () => message(ch, { raw: '张'.repeat(700) }));
    await Promise.all(messages.map((m) => store.insert(m)));
    const transactions = store.writeStats.transactions - before.transactions;
    expect(store.writeStats.operations - before.operations).toBe(500);
    expect(transactions).toBeLessThan(50);
    expect(store.writeStats.largestBatch).toBeGreaterThan(10);
    const found = await store.search({ channel: ch, limit: 500 });
    expect(found.messages).toHaveLength(500);
    expect(found.next).toBeUndefined();
    expect(new Set(found.messages.map((m) => m.id))).toEqual(new Set(messages.map((m) => m.id)));
    expect((await store.get(messages[123].id))!.raw).toBe('张'.repeat(700));
  });

  test('a failing batch rejects every caller in it and writes none of it', async () => {
    const ch = channel('fail');
    const existing = message(ch);
    await store.insert(existing);
    const failedBefore = store.writeStats.failedTransactions;
    const innocent = Array.from({ length: 20 }, () => message(ch));
    const duplicate = message(ch, { id: existing.id, receivedAt: existing.receivedAt });
    const results = await Promise.allSettled([...innocent.slice(0, 10), duplicate, ...innocent.slice(10)].map((m) => store.insert(m)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    for (const r of results) expect(isUniqueViolation((r as PromiseRejectedResult).reason)).toBe(true);
    expect(store.writeStats.failedTransactions).toBe(failedBefore + 1);
    for (const m of innocent) expect(await store.get(m.id)).toBeUndefined();
    expect((await store.search({ channel: ch })).messages.map((m) => m.id)).toEqual([existing.id]);
    // the store carries on
    const later = message(ch);
    await store.insert(later);
    expect(await store.get(later.id)).toBeDefined();
  });

  test('invalid messages are refused on their own, not in a batch', async () => {
    const ch = channel('invalid');
    const good = message(ch);
    const results = await Promise.allSettled([
      store.insert(good),
      store.insert(message(ch, { channelId: 'c'.repeat(200) })),
      store.insert(message(ch, { status: 'lost' as never })),
      store.updateStage({ messageId: good.id, stage: 'd1', status: 'delivered' as never }),
      store.recordAttemptError(good.id, { stage: 'd1', attempt: 1, error: undefined as never, at: Date.now() }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected']);
    expect(await store.get(good.id)).toBeDefined();
  });

  test('updateStage recomputes the message status from its destinations', async () => {
    const ch = channel('status');
    const a = message(ch);
    const b = message(ch);
    await Promise.all([store.insert(a), store.insert(b)]);
    await store.markQueued([{ messageId: a.id, stage: 'd1' }, { messageId: a.id, stage: 'd2' }, { messageId: b.id, stage: 'd1' }, { messageId: b.id, stage: 'd2' }]);
    expect(await store.stageStatus(a.id, 'd1')).toBe('queued');

    await store.updateStage({ messageId: a.id, stage: 'd1', status: 'sent', response: 'AA', error: null, attempts: 1 });
    let got = (await store.get(a.id))!;
    expect(got.status).toBe('queued');
    expect(got.updatedAt).toBeGreaterThanOrEqual(a.receivedAt);
    await store.updateStage({ messageId: a.id, stage: 'd2', status: 'error', error: 'refused', attempts: 5 });
    got = (await store.get(a.id))!;
    expect(got.status).toBe('error');
    expect(got.stages.find((s) => s.name === 'd2')).toMatchObject({ status: 'error', error: 'refused', attempts: 5, content: 'to d2' });

    await Promise.all([
      store.updateStage({ messageId: b.id, stage: 'd1', status: 'sent', response: '确认', attempts: 1 }),
      store.updateStage({ messageId: b.id, stage: 'd2', status: 'sent', response: 'ok', attempts: 2 }),
    ]);
    got = (await store.get(b.id))!;
    expect(got.status).toBe('sent');
    expect(got.stages.find((s) => s.name === 'd1')).toMatchObject({ status: 'sent', response: '确认', attempts: 1, content: 'to d1', error: null });
  });

  test('updateStage overwrites only the fields given; markQueued never undoes a later status', async () => {
    const ch = channel('fields');
    const m = message(ch);
    await store.insert(m);
    await store.updateStage({ messageId: m.id, stage: 'd1', status: 'queued', error: 'timeout', attempts: 1 });
    await store.updateStage({ messageId: m.id, stage: 'd1', status: 'queued', response: 'partial' });
    let d1 = (await store.get(m.id))!.stages.find((s) => s.name === 'd1')!;
    expect(d1).toMatchObject({ status: 'queued', content: 'to d1', error: 'timeout', response: 'partial', attempts: 1 });
    await store.updateStage({ messageId: m.id, stage: 'd1', status: 'sent', error: null, content: 'resent', attempts: 2 });
    d1 = (await store.get(m.id))!.stages.find((s) => s.name === 'd1')!;
    expect(d1).toMatchObject({ status: 'sent', content: 'resent', error: null, response: 'partial', attempts: 2 });

    // confirmation from the bus arriving after delivery
    await store.markQueued([{ messageId: m.id, stage: 'd1' }]);
    expect(await store.stageStatus(m.id, 'd1')).toBe('sent');
    // both in one batch, in either order
    await Promise.all([store.updateStage({ messageId: m.id, stage: 'd2', status: 'sent', attempts: 1 }), store.markQueued([{ messageId: m.id, stage: 'd2' }])]);
    expect(await store.stageStatus(m.id, 'd2')).toBe('sent');
    expect((await store.get(m.id))!.status).toBe('sent');

    // writes for unknown messages are no-ops
    await store.updateStage({ messageId: v7(), stage: 'd1', status: 'sent' });
    await store.markQueued([{ messageId: v7(), stage: 'd1' }]);
    await store.recordAttemptError(v7(), { stage: 'd1', attempt: 1, error: 'x', at: Date.now() });
  });

  test('new messages, deliveries and confirms in one batch, one of them to a message of the same batch (PostgreSQL: changes in one statement)', async () => {
    const ch = channel('mixed');
    const [a, b, c] = [message(ch), message(ch), message(ch)];
    await Promise.all([store.insert(a), store.insert(b), store.insert(c)]);
    const fresh = [message(ch), message(ch, {}, ['d1'])];
    const statements: string[] = [];
    const seen = (q: { sql: string }) => statements.push(q.sql);
    db.on('query', seen);
    try {
      await Promise.all([
        ...fresh.map((m) => store.insert(m)),
        store.updateStage({ messageId: a.id, stage: 'd1', status: 'sent', response: '确认', attempts: 1 }),
        store.updateStage({ messageId: a.id, stage: 'd2', status: 'sent', attempts: 2 }),
        store.markQueued([{ messageId: a.id, stage: 'd1' }, { messageId: c.id, stage: 'd1' }, { messageId: c.id, stage: 'd2' }]),
        store.updateStage({ messageId: b.id, stage: 'd1', status: 'error', error: 'refused', attempts: 5 }),
        store.updateStage({ messageId: c.id, stage: 'd2', status: 'sent', attempts: 1 }),
        // submitted with its message's insert
        store.updateStage({ messageId: fresh[0].id, stage: 'd2', status: 'sent', attempts: 1 }),
      ]);
    } finally {
      db.off('query', seen);
    }
    if (kind === 'postgres') expect(statements.filter((sql) => !/^\s*(insert|begin|commit)/i.test(sql))).toHaveLength(1);
    const got = async (id: string) => (await store.get(id))!;
    expect((await got(a.id)).status).toBe('sent');
    expect((await got(a.id)).stages.find((s) => s.name === 'd1')).toMatchObject({ status: 'sent', response: '确认', attempts: 1, content: 'to d1' });
    expect((await got(b.id)).status).toBe('error');
    expect((await got(b.id)).stages.map((s) => s.status)).toEqual(['received', 'transformed', 'error', 'pending']);
    expect((await got(c.id)).status).toBe('queued');
    expect((await got(c.id)).stages.map((s) => s.status)).toEqual(['received', 'transformed', 'queued', 'sent']);
    expect((await got(fresh[0].id)).stages.map((s) => s.status)).toEqual(['received', 'transformed', 'pending', 'sent']);
    expect((await got(fresh[1].id)).stages.map((s) => s.status)).toEqual(['received', 'transformed', 'pending']);

    // A store that has not seen the message (another node, a restart) looks it up first, then writes the same way.
    const other = new KnexMessageStore(db);
    await Promise.all([
      other.updateStage({ messageId: c.id, stage: 'd1', status: 'sent', attempts: 1 }),
      other.updateStage({ messageId: fresh[1].id, stage: 'd1', status: 'filtered', attempts: 1 }),
    ]);
    await other.close();
    expect((await got(c.id)).status).toBe('sent');
    expect((await got(fresh[1].id)).status).toBe('filtered');
  });

  test('attempt errors are recorded and returned in attempt order', async () => {
    const m = message(channel('errors'));
    await store.insert(m);
    const t = Date.now();
    await store.recordAttemptError(m.id, { stage: 'd1', attempt: 1, error: '连接被拒绝', at: t });
    await Promise.all([
      store.recordAttemptError(m.id, { stage: 'd1', attempt: 3, error: 'third', at: t + 20 }),
      store.recordAttemptError(m.id, { stage: 'd1', attempt: 2, error: 'second', at: t + 10 }),
    ]);
    const got = (await store.get(m.id))!;
    expect(got.errors).toEqual([
      { stage: 'd1', attempt: 1, error: '连接被拒绝', at: t },
      { stage: 'd1', attempt: 2, error: 'second', at: t + 10 },
      { stage: 'd1', attempt: 3, error: 'third', at: t + 20 },
    ]);
  });

  test('search filters by channel, status, time range, correlation id and content', async () => {
    const ch = channel('search');
    const other = channel('search-other');
    const base = Date.now() - 60_000;
    const ms = [
      message(ch, { receivedAt: base, raw: 'PID|张三丰|100%_done', correlationId: 'corr-1' }),
      message(ch, { receivedAt: base + 1000, raw: 'PID|李四|100xydone', status: 'sent', correlationId: 'corr-2' }),
      message(ch, { receivedAt: base + 2000, raw: 'PID|王五|Case', status: 'error', correlationId: 'corr-2' }),
      message(other, { receivedAt: base + 3000, raw: 'PID|张三丰', correlationId: 'corr-1' }),
    ];
    for (const m of ms) await store.insert(m);
    const ids = async (q: Parameters<KnexMessageStore['search']>[0]) => (await store.search(q)).messages.map((m) => m.id);

    expect(await ids({ channel: ch })).toEqual([ms[2].id, ms[1].id, ms[0].id]);
    expect(await ids({ channel: ch, status: 'sent' })).toEqual([ms[1].id]);
    expect(await ids({ channel: ch, from: base + 1000, to: base + 2000 })).toEqual([ms[1].id]);
    expect(await ids({ correlationId: 'corr-1' })).toEqual([ms[3].id, ms[0].id]);
    expect(await ids({ correlationId: 'corr-2', status: 'error' })).toEqual([ms[2].id]);
    expect(await ids({ q: '张三丰', from: base })).toEqual([ms[3].id, ms[0].id]);
    expect(await ids({ q: '张三丰', channel: ch })).toEqual([ms[0].id]);
    // % and _ are literal characters, not wildcards
    expect(await ids({ q: '0%_d', from: base })).toEqual([ms[0].id]);
    expect(await ids({ q: '100%', from: base })).toEqual([ms[0].id]);
    expect(await ids({ q: 'no such text' })).toEqual([]);
    if (kind !== 'mysql') expect(await ids({ q: 'case', channel: ch })).toEqual([]);
    const [summary] = (await store.search({ channel: ch, status: 'error' })).messages;
    expect(summary).toEqual({
      id: ms[2].id, channelId: ch, correlationId: 'corr-2', status: 'error', contentType: 'application/hl7-v2', encoding: 'utf-8',
      receivedAt: base + 2000, updatedAt: base + 2000, reprocessedFrom: null, contentPruned: false, size: Buffer.byteLength('PID|王五|Case'),
    });
    await expect(store.search({ cursor: 'not a cursor' })).rejects.toThrow(/invalid cursor/);
  });

  test('cursor paging is stable while new messages arrive: no duplicates, no gaps', async () => {
    const ch = channel('paging');
    const base = Date.now() - 3_600_000;
    // Three messages per millisecond, so that pages also split ties on received_at.
    const originals = Array.from({ length: 120 }, (_, i) => message(ch, { receivedAt: base + Math.floor(i / 3) }));
    await Promise.all(originals.map((m) => store.insert(m)));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.search({ channel: ch, limit: 25, cursor });
      seen.push(...page.messages.map((m) => m.id));
      cursor = page.next;
      pages++;
      await Promise.all(Array.from({ length: 5 }, () => store.insert(message(ch))));
    } while (cursor);
    const expected = [...originals].sort((a, b) => b.receivedAt - a.receivedAt || (b.id < a.id ? -1 : 1)).map((m) => m.id);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);
    expect(pages).toBe(5);
    expect((await store.search({ channel: ch, limit: 10_000 })).messages).toHaveLength(120 + pages * 5);
  });

  test('pendingStages lists unconfirmed destination stages, oldest first', async () => {
    const ch = channel('pending');
    const old = message(ch, { receivedAt: Date.now() - 120_000, correlationId: 'c-old' });
    const older = message(ch, { receivedAt: Date.now() - 180_000, correlationId: 'c-older' }, ['only']);
    const fresh = message(ch, { correlationId: 'c-fresh' });
    await Promise.all([store.insert(old), store.insert(older), store.insert(fresh)]);
    await store.markQueued([{ messageId: old.id, stage: 'd1' }]);
    const mine = (list: Awaited<ReturnType<KnexMessageStore['pendingStages']>>) => list.filter((p) => p.channelId === ch);
    expect(mine(await store.pendingStages(10_000, Date.now() - 60_000))).toEqual([
      { messageId: older.id, channelId: ch, correlationId: 'c-older', stage: 'only', content: 'to only', receivedAt: older.receivedAt },
      { messageId: old.id, channelId: ch, correlationId: 'c-old', stage: 'd2', content: 'to d2', receivedAt: old.receivedAt },
    ]);
    expect(mine(await store.pendingStages(10_000)).map((p) => `${p.correlationId}/${p.stage}`)).toEqual(['c-older/only', 'c-old/d2', 'c-fresh/d1', 'c-fresh/d2']);
    expect(await store.pendingStages(1)).toHaveLength(1);
  });

  test('counts per channel by status', async () => {
    const ch = channel('counts');
    const statuses = ['queued', 'queued', 'transformed', 'received', 'filtered', 'sent', 'sent', 'sent', 'error'] as const;
    await Promise.all(statuses.map((status) => store.insert(message(ch, { status }))));
    const counts = await store.counts();
    expect(counts.find((c) => c.channelId === ch)).toEqual({ channelId: ch, received: 9, filtered: 1, queued: 4, sent: 3, error: 1 });
  });

  test('prune content clears raw and stage content, keeps metadata', async () => {
    const ch = channel('prune-content');
    const keep = channel('prune-content-keep');
    const now = Date.now();
    const old = Array.from({ length: 12 }, (_, i) => message(ch, { receivedAt: now - 10 * DAY_MS - i * 1000 }));
    const recent = message(ch, { receivedAt: now - DAY_MS });
    const otherOld = message(keep, { receivedAt: now - 10 * DAY_MS });
    await Promise.all([...old, recent, otherOld].map((m) => store.insert(m)));
    await store.updateStage({ messageId: old[0].id, stage: 'd1', status: 'sent', response: 'ACK', attempts: 1 });
    await store.recordAttemptError(old[0].id, { stage: 'd2', attempt: 1, error: 'down', at: now });

    const small = new KnexMessageStore(db, { pruneBatch: 5 });
    expect(await small.prune([{ channelId: ch, contentDays: 7 }], now)).toEqual({ contentPruned: 12, messagesDeleted: 0 });
    const got = (await store.get(old[0].id))!;
    expect(got.raw).toBeNull();
    expect(got.contentPruned).toBe(true);
    expect(got.stages.map((s) => [s.name, s.status, s.content ?? null, s.response ?? null])).toEqual([
      ['source', 'received', null, null], ['transformer', 'transformed', null, null], ['d1', 'sent', null, null], ['d2', 'pending', null, null],
    ]);
    expect(got.errors).toEqual([{ stage: 'd2', attempt: 1, error: 'down', at: now }]);
    expect(got.correlationId).toBe(old[0].correlationId);
    expect((await store.search({ channel: ch, to: now - 2 * DAY_MS })).messages.every((m) => m.contentPruned && m.size === 100)).toBe(true);
    expect((await store.get(recent.id))!.raw).toBe(recent.raw);
    expect((await store.get(otherOld.id))!.raw).toBe(otherOld.raw);
    expect(await store.prune([{ channelId: ch, contentDays: 7 }], now)).toEqual({ contentPruned: 0, messagesDeleted: 0 });
  });

  test('prune metadata deletes messages with their stages and errors', async () => {
    const ch = channel('prune-meta');
    const now = Date.now();
    const old = Array.from({ length: 7 }, (_, i) => message(ch, { receivedAt: now - 40 * DAY_MS + i }));
    const recent = message(ch, { receivedAt: now - 3 * DAY_MS });
    await Promise.all([...old, recent].map((m) => store.insert(m)));
    await store.recordAttemptError(old[0].id, { stage: 'd1', attempt: 1, error: 'down', at: now });
    const small = new KnexMessageStore(db, { pruneBatch: 3 });
    expect(await small.prune([{ channelId: ch, metadataDays: 30 }, { channelId: channel('unused') }], now)).toEqual({ contentPruned: 0, messagesDeleted: 7 });
    for (const m of old) expect(await store.get(m.id)).toBeUndefined();
    const ids = old.map((m) => m.id);
    expect(Number((await db('lingshu_message_stages').whereIn('message_id', ids).count({ n: '*' }))[0].n)).toBe(0);
    expect(Number((await db('lingshu_message_errors').whereIn('message_id', ids).count({ n: '*' }))[0].n)).toBe(0);
    expect(await store.get(recent.id)).toBeDefined();
    // updates for pruned messages are harmless no-ops
    await store.updateStage({ messageId: old[1].id, stage: 'd1', status: 'sent' });
    await store.recordAttemptError(old[1].id, { stage: 'd1', attempt: 2, error: 'late', at: now });
    expect(Number((await db('lingshu_message_errors').whereIn('message_id', ids).count({ n: '*' }))[0].n)).toBe(0);
  });

  if (kind === 'sqlite') {
    test('SQLite: pruning gives pages back to the file (incremental vacuum)', async () => {
      const ch = channel('vacuum');
      const now = Date.now();
      const many = Array.from({ length: 3000 }, (_, i) => message(ch, { receivedAt: now - 50 * DAY_MS + i, raw: 'v'.repeat(2048) }));
      await Promise.all(many.map((m) => store.insert(m)));
      const pragma = async (name: string) => Number(Object.values((await db.raw(`PRAGMA ${name}`))[0])[0]);
      const before = await pragma('page_count');
      expect(await store.prune([{ channelId: ch, metadataDays: 30 }], now)).toEqual({ contentPruned: 0, messagesDeleted: 3000 });
      const after = await pragma('page_count');
      // 3,000 × (2 KB raw + stage rows) is well over 1,500 pages of 4 KB
      expect(before - after).toBeGreaterThan(1500);
      expect(await pragma('freelist_count')).toBeLessThan(50);
    });
  }

  if (kind === 'postgres') {
    test('PostgreSQL: whole expired days are dropped as partitions; upcoming days exist', async () => {
      const ch = channel('partition');
      const uncovered = channel('partition-no-policy');
      const now = Date.now();
      const dayName = (t: number) => new Date(Math.floor(t / DAY_MS) * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '');
      const ancient = now - 90 * DAY_MS;
      const ancientOther = now - 95 * DAY_MS;
      const expired = Array.from({ length: 10 }, (_, i) => message(ch, { receivedAt: ancient + i }));
      const kept = message(uncovered, { receivedAt: ancientOther });
      await Promise.all([...expired, kept].map((m) => store.insert(m)));
      // A second node that has seen the day, and will not notice when the first drops it.
      const otherNode = new KnexMessageStore(db);
      await otherNode.insert(message(ch, { receivedAt: ancient + 20 }));
      const partitions = async () => (await db.raw(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'lingshu_messages'::regclass`,
      )).rows.map((r: { relname: string }) => r.relname as string);
      const exists = async (name: string) => Number((await db.raw(`SELECT count(*) AS n FROM pg_class WHERE relname = ?`, [name])).rows[0].n) === 1;
      expect(await partitions()).toContain(`lingshu_messages_p${dayName(ancient)}`);
      expect(await exists(`lingshu_message_stages_p${dayName(ancient)}`)).toBe(true);

      // Every channel with a message has a policy except `uncovered`: its day stays, the expired one goes.
      const channels = (await db('lingshu_messages').distinct('channel_id')).map((r: { channel_id: string }) => r.channel_id).filter((c: string) => c !== uncovered);
      const result = await store.prune(channels.map((channelId: string) => ({ channelId, metadataDays: 60 })), now);
      expect(result.messagesDeleted).toBeGreaterThanOrEqual(11);
      const after = await partitions();
      expect(after).not.toContain(`lingshu_messages_p${dayName(ancient)}`);
      expect(await exists(`lingshu_message_stages_p${dayName(ancient)}`)).toBe(false);
      expect(await exists(`lingshu_message_errors_p${dayName(ancient)}`)).toBe(false);
      expect(after).toContain(`lingshu_messages_p${dayName(ancientOther)}`);
      expect(after).toContain(`lingshu_messages_p${dayName(now + 7 * DAY_MS)}`);
      for (const m of expired) expect(await store.get(m.id)).toBeUndefined();
      expect(await store.get(kept.id)).toBeDefined();

      // The other node's insert into the dropped day fails once, re-reads the catalog and creates the day again.
      const late = message(ch, { receivedAt: ancient + 5 });
      await otherNode.insert(late);
      expect(await store.get(late.id)).toBeDefined();
      expect(otherNode.writeStats.failedTransactions).toBe(0);
    });
  }
});
