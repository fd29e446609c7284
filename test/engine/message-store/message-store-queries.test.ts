import { Knex } from 'knex';
import { KnexMessageStore } from '../../../engine/message-store/knex-message-store';
import { DAY_MS } from '../../../engine/message-store/message-store-schema';
import { ALL_DATABASES } from '../../support/databases';
import { channel, message, messageStoreFixture } from './message-store-fixture';

describe.each(ALL_DATABASES)('KnexMessageStore search, counts and pruning on %s', (kind) => {
  const fx = messageStoreFixture(kind);
  let db: Knex;
  let store: KnexMessageStore;
  beforeAll(() => {
    ({ db, store } = fx);
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
