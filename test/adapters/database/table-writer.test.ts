import type { Knex } from 'knex';
import { tableWriter } from '../../../adapters/database/table-writer';
import type { OutboundMessage } from '../../../engine/channel/channel';
import { ALL_DATABASES, createTestDatabase, TestDatabase } from '../../support/databases';

function message(messageId: string, content = `内容 ${messageId}`): OutboundMessage {
  return { messageId, channelId: 'ch', destination: 'out', correlationId: `c-${messageId}`, content, attempt: 1 };
}

describe.each(ALL_DATABASES)('table writer on %s', (kind) => {
  let tdb: TestDatabase;
  let db: Knex;

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    db = tdb.open();
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  test('concurrent sends share statements and each resolves once its row is committed', async () => {
    const writer = tableWriter(db, { table: 'tw_batch' });
    await writer.start!();
    let inserts = 0;
    const count = (q: { sql: string }) => { if (/^insert/i.test(q.sql)) inserts++; };
    db.on('query', count);
    try {
      const ids = Array.from({ length: 200 }, (_, i) => `m${i}`);
      const responses = await Promise.all(ids.map((id) => writer.send(message(id))));
      expect(responses.every((r, i) => r.response === `row m${i} written to tw_batch`)).toBe(true);
      expect(inserts).toBeLessThan(20);
      const rows = await db('tw_batch').select('message_id', 'content', 'correlation_id').orderBy('message_id');
      expect(rows).toHaveLength(200);
      expect(rows.find((r: { message_id: string }) => r.message_id === 'm7')).toEqual({ message_id: 'm7', content: '内容 m7', correlation_id: 'c-m7' });
    } finally {
      db.off('query', count);
      await writer.stop!();
    }
  });

  test('a repeat of a message id, alone or in the same batch, counts as delivered and writes no second row', async () => {
    const writer = tableWriter(db, { table: 'tw_idem' });
    await writer.start!();
    await writer.send(message('once'));
    const [again, twinA, twinB] = await Promise.all([writer.send(message('once')), writer.send(message('twin')), writer.send(message('twin'))]);
    if (kind !== 'mysql') {
      expect(again.response).toBe('row once already in tw_idem');
      expect([twinA.response, twinB.response].sort()).toEqual(['row twin already in tw_idem', 'row twin written to tw_idem']);
    }
    expect(Number((await db('tw_idem').count({ n: '*' }))[0].n)).toBe(2);
    await writer.stop!();
  });

  test('a row the table refuses fails only its own send', async () => {
    const writer = tableWriter(db, { table: 'tw_fail' });
    await writer.start!();
    const tooLong = { ...message('bad'), channelId: 'x'.repeat(200) }; // channel_id is varchar(64)
    const results = await Promise.allSettled([writer.send(message('good1')), writer.send(tooLong), writer.send(message('good2'))]);
    // Only PostgreSQL is sure to refuse it: SQLite ignores varchar lengths, MariaDB truncates unless in strict mode.
    const expected = kind === 'postgres' ? ['fulfilled', 'rejected', 'fulfilled'] : ['fulfilled', expect.any(String), 'fulfilled'];
    expect(results.map((r) => r.status)).toEqual(expected);
    expect(Number((await db('tw_fail').whereIn('message_id', ['good1', 'good2']).count({ n: '*' }))[0].n)).toBe(2);
    await writer.stop!();
  });
});
