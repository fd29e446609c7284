import { Knex } from 'knex';
import { v7 } from 'uuid';
import { isUniqueViolation } from '../../../engine/db';
import { KnexMessageStore } from '../../../engine/message-store/knex-message-store';
import { ALL_DATABASES } from '../../support/databases';
import { channel, HL7, message, messageStoreFixture, statementsOf } from './message-store-fixture';

describe.each(ALL_DATABASES)('KnexMessageStore on %s', (kind) => {
  const fx = messageStoreFixture(kind);
  let db: Knex;
  let store: KnexMessageStore;
  beforeAll(() => {
    ({ db, store } = fx);
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

  test('the outcome of a sole destination sets its message status without aggregating the stages, beside others that do', async () => {
    const ch = channel('sole');
    const sole = Array.from({ length: 4 }, () => message(ch, {}, ['d1']));
    const pair = message(ch);
    await Promise.all([...sole, pair].map((m) => store.insert(m)));
    const update = (m: { id: string }, status: 'sent' | 'error' | 'filtered' | 'queued', extra: object = {}) =>
      store.updateStage({ messageId: m.id, stage: 'd1', status, attempts: 2, soleDestination: true, ...extra });
    const statements = await statementsOf(db, () => Promise.all([
      update(sole[0], 'sent', { response: '已接收' }),
      update(sole[1], 'error', { error: 'refused' }),
      update(sole[2], 'filtered'),
      update(sole[3], 'queued', { error: 'timeout' }),
    ]));
    expect(statements.join('\n')).not.toMatch(/SUM\(CASE/);
    const got = async (id: string) => (await store.get(id))!;
    expect(await Promise.all(sole.map(async (m) => (await got(m.id)).status))).toEqual(['sent', 'error', 'filtered', 'queued']);
    expect((await got(sole[0].id)).stages.find((s) => s.name === 'd1')).toMatchObject({ status: 'sent', response: '已接收', attempts: 2, content: 'to d1' });
    expect((await got(sole[1].id)).updatedAt).toBeGreaterThanOrEqual(sole[1].receivedAt);

    // With a message of two destinations in the same batch, that one is still aggregated (d2 is pending: queued).
    await Promise.all([
      update(sole[3], 'sent'),
      store.markQueued([{ messageId: pair.id, stage: 'd2' }]),
      store.updateStage({ messageId: pair.id, stage: 'd1', status: 'sent', attempts: 1 }),
    ]);
    expect((await got(sole[3].id)).status).toBe('sent');
    expect((await got(pair.id)).status).toBe('queued');
    // A failed attempt goes the general way (its error row needs the message looked up); the status follows as well.
    await Promise.all([
      store.recordAttemptError(sole[0].id, { stage: 'd1', attempt: 3, error: 'late', at: Date.now() }),
      update(sole[0], 'error', { error: 'late' }),
    ]);
    expect(await got(sole[0].id)).toMatchObject({ status: 'error', errors: [expect.objectContaining({ error: 'late' })] });
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
    const statements = await statementsOf(db, () => Promise.all([
        ...fresh.map((m) => store.insert(m)),
        store.updateStage({ messageId: a.id, stage: 'd1', status: 'sent', response: '确认', attempts: 1 }),
        store.updateStage({ messageId: a.id, stage: 'd2', status: 'sent', attempts: 2 }),
        store.markQueued([{ messageId: a.id, stage: 'd1' }, { messageId: c.id, stage: 'd1' }, { messageId: c.id, stage: 'd2' }]),
        store.updateStage({ messageId: b.id, stage: 'd1', status: 'error', error: 'refused', attempts: 5 }),
        store.updateStage({ messageId: c.id, stage: 'd2', status: 'sent', attempts: 1 }),
        // submitted with its message's insert
        store.updateStage({ messageId: fresh[0].id, stage: 'd2', status: 'sent', attempts: 1 }),
      ]));
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

  test('new messages and changes to stored ones in one batch (PostgreSQL: the whole batch is one statement, no BEGIN/COMMIT)', async () => {
    const ch = channel('one-statement');
    const [a, b] = [message(ch), message(ch)];
    await Promise.all([store.insert(a), store.insert(b)]);
    const fresh = [message(ch), message(ch, {}, ['d1']), message(ch)];
    const statements = await statementsOf(db, async () => {
      await Promise.all([
        ...fresh.map((m) => store.insert(m)),
        store.updateStage({ messageId: a.id, stage: 'd1', status: 'sent', response: '已接收', attempts: 1 }),
        store.markQueued([{ messageId: a.id, stage: 'd2' }, { messageId: b.id, stage: 'd1' }]),
        store.updateStage({ messageId: b.id, stage: 'd2', status: 'error', error: 'refused', attempts: 3 }),
      ]);
      // New messages alone, too.
      await Promise.all([message(ch), message(ch)].map((m) => store.insert(m)));
    });
    if (kind === 'postgres') expect(statements.filter((sql) => !/^\s*select .* from pg_inherits/i.test(sql))).toHaveLength(2);
    const got = async (id: string) => (await store.get(id))!;
    expect((await got(a.id)).stages.map((s) => s.status)).toEqual(['received', 'transformed', 'sent', 'queued']);
    expect((await got(a.id)).stages.find((s) => s.name === 'd1')).toMatchObject({ response: '已接收', content: 'to d1' });
    expect((await got(a.id)).status).toBe('queued');
    expect((await got(b.id)).stages.map((s) => s.status)).toEqual(['received', 'transformed', 'queued', 'error']);
    expect((await got(b.id)).status).toBe('error');
    for (const m of fresh) expect(await got(m.id)).toMatchObject({ status: m.status, raw: m.raw, stages: m.stages.map((s) => expect.objectContaining({ name: s.name, status: s.status })) });
    expect((await store.search({ channel: ch, limit: 50 })).messages).toHaveLength(7);
  });

  test('a destination whose content is the raw content stores it once and reads it back everywhere', async () => {
    const ch = channel('passthrough');
    const raw = 'MSH|^~\\&|LIS|桃源院区|' + 'x'.repeat(2000);
    const m = message(ch, { raw, receivedAt: Date.now() - 120_000 });
    m.stages[2].content = raw;
    m.stages[3].content = 'transformed for d2';
    await store.insert(m);
    const stored = await db('lingshu_message_stages').where({ message_id: m.id }).orderBy('seq').select('name', 'content', 'content_from');
    expect(stored.slice(2)).toEqual([{ name: 'd1', content: null, content_from: 'raw' }, { name: 'd2', content: 'transformed for d2', content_from: null }]);

    const contents = async () => (await store.get(m.id))!.stages.map((s) => s.content);
    expect(await contents()).toEqual([null, 'out', raw, 'transformed for d2']);
    const pending = (await store.pendingStages(10_000, Date.now() - 60_000)).filter((p) => p.messageId === m.id);
    expect(pending.map((p) => [p.stage, p.content])).toEqual([['d1', raw], ['d2', 'transformed for d2']]);

    // Updates without content keep the reference; content of its own replaces it.
    await store.updateStage({ messageId: m.id, stage: 'd1', status: 'queued', error: 'timeout', attempts: 1 });
    expect((await contents())[2]).toBe(raw);
    await store.updateStage({ messageId: m.id, stage: 'd1', status: 'sent', content: 'resent as', attempts: 2 });
    expect((await contents())[2]).toBe('resent as');
    expect(await db('lingshu_message_stages').where({ message_id: m.id, name: 'd1' }).first('content_from')).toEqual({ content_from: null });

    // Pruned content goes for both.
    const other = message(ch, { raw, receivedAt: Date.now() - 10 * 86_400_000 });
    other.stages[2].content = raw;
    await store.insert(other);
    await store.prune([{ channelId: ch, contentDays: 7 }]);
    expect((await store.get(other.id))!.stages.map((s) => s.content)).toEqual([null, null, null, null]);
  });

  test('the transformed content that several destinations share is stored once', async () => {
    const ch = channel('fan-out');
    const output = '{"resourceType":"Bundle","type":"transaction"}' + ' '.repeat(1000);
    const m = message(ch, { receivedAt: Date.now() - 120_000 }, ['d1', 'd2', 'd3']);
    for (const i of [2, 3, 4]) m.stages[i].content = output;
    m.stages[1].content = 'transformer note';
    await store.insert(m);
    const stored = await db('lingshu_message_stages').where({ message_id: m.id }).orderBy('seq').select('content', 'content_from');
    expect(stored.slice(1).map((s) => s.content_from)).toEqual([null, 'output', 'output', 'output']);
    expect(stored.slice(2).every((s) => s.content === null)).toBe(true);
    expect((await db('lingshu_messages').where({ id: m.id }).first('output')).output).toBe(output);

    expect((await store.get(m.id))!.stages.map((s) => s.content)).toEqual([null, 'transformer note', output, output, output]);
    const pending = (await store.pendingStages(10_000, Date.now() - 60_000)).filter((p) => p.messageId === m.id);
    expect(pending.map((p) => p.content)).toEqual([output, output, output]);
    await store.updateStage({ messageId: m.id, stage: 'd2', status: 'sent', content: 'sent as', attempts: 1 });
    expect((await store.get(m.id))!.stages.map((s) => s.content)).toEqual([null, 'transformer note', output, 'sent as', output]);

    // One destination: nothing is shared, the stage keeps its own copy.
    const single = message(ch, {}, ['d1']);
    single.stages[2].content = output;
    await store.insert(single);
    expect(await db('lingshu_message_stages').where({ message_id: single.id, name: 'd1' }).first('content_from')).toEqual({ content_from: null });
    expect((await db('lingshu_messages').where({ id: single.id }).first('output')).output).toBeNull();

    const old = message(ch, { receivedAt: Date.now() - 10 * 86_400_000 }, ['d1', 'd2']);
    old.stages[2].content = output;
    old.stages[3].content = output;
    await store.insert(old);
    await store.prune([{ channelId: ch, contentDays: 7 }]);
    expect((await db('lingshu_messages').where({ id: old.id }).first('output')).output).toBeNull();
    expect((await store.get(old.id))!.stages.map((s) => s.content)).toEqual([null, null, null, null]);
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
});
