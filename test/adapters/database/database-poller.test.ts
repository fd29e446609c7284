import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { createTestDatabase, TestDatabase } from '../../support/databases';
import { EngineProcess, freePort } from '../../support/engine-process';
import { eventually } from '../../support/engine-server';

/** The row keys (correlation ids) a channel has stored messages for, one entry per message. */
async function storedKeys(db: Knex, channelId: string): Promise<string[]> {
  const rows: { correlation_id: string }[] = await db('lingshu_messages').where({ channel_id: channelId }).select('correlation_id');
  return rows.map((r) => r.correlation_id).sort((a, b) => Number(a) - Number(b));
}

function channelFiles(hisUrl: string): Record<string, string> {
  return {
    'his-orders.yaml': `
id: his-orders
source:
  type: database-poller
  url: ${hisUrl}
  cron: '* * * * * *'
  query: SELECT id, patient_no, item FROM his_orders WHERE status = 'N'
  keyColumn: id
  batchSize: 50
  # A few seconds instead of the 60 s default, so that the test of a killed node stays short.
  leaseMs: 3000
  postProcess: UPDATE his_orders SET status = 'D' WHERE id = :key
transformer: passthrough
destinations:
  - { name: write-row, type: table, table: his_orders_in }
`,
    'his-results.yaml': `
id: his-results
source:
  type: database-poller
  url: ${hisUrl}
  cron: '* * * * * *'
  query: SELECT id, seq, body FROM his_results
  keyColumn: id
  highWaterMark: { column: seq }
  # The first test SIGKILLs a node, which may be in the middle of this channel's poll (it runs every second): with
  # the 60 s default its lease would outlive the next test's wait for the rows.
  leaseMs: 3000
transformer: passthrough
destinations:
  - { name: write-row, type: table, table: his_results_in }
`,
  };
}

describe.each(['postgres', 'mysql'] as const)('database poller on a %s HIS table', (kind) => {
  let his: TestDatabase;
  let hisDb: Knex;
  let own: TestDatabase;
  let ownDb: Knex;
  let channelsDir: string;
  let engine: EngineProcess;
  let otherNode: EngineProcess;

  beforeAll(async () => {
    // Lingshu's own database is a server too: two engine nodes share it, and the schedule leases in it.
    [his, own] = await Promise.all([createTestDatabase(kind), createTestDatabase(kind)]);
    hisDb = his.open();
    await hisDb.schema.createTable('his_orders', (t) => {
      t.integer('id').primary();
      t.string('patient_no', 32);
      t.string('item', 64);
      t.string('status', 1).notNullable().defaultTo('N');
    });
    await hisDb.schema.createTable('his_results', (t) => {
      t.integer('id').primary();
      t.integer('seq').notNullable();
      t.string('body', 64);
    });
    channelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-poller-'));
    for (const [file, text] of Object.entries(channelFiles(his.url))) fs.writeFileSync(path.join(channelsDir, file), text);
    const env = { LINGSHU_DB: own.url, LINGSHU_BUS: '', LINGSHU_CHANNELS_DIR: channelsDir, LINGSHU_PROFILE: 'production', LINGSHU_LOG_LEVEL: 'warn' };
    engine = new EngineProcess(env, await freePort());
    otherNode = new EngineProcess(env, await freePort());
    ownDb = own.open();
  });
  afterAll(async () => {
    await engine?.kill();
    await otherNode?.kill();
    await ownDb?.destroy();
    await hisDb?.destroy();
    await his?.drop();
    await own?.drop();
    fs.rmSync(channelsDir, { recursive: true, force: true });
  });

  it('picks up each row once, on another node within a lease, when the node is killed after storing a batch and before marking it', async () => {
    const ids = [1, 2, 3, 4, 5];
    await hisDb('his_orders').insert(ids.map((id) => ({ id, patient_no: `P00${id}`, item: '血常规' })));
    // Holding the rows' locks lets the poller read and store them but blocks its post-process UPDATE: the kill
    // below lands exactly between accept and mark.
    const lock = await hisDb.transaction();
    try {
      await lock('his_orders').whereIn('id', ids).forUpdate().select('id');
      await engine.start();
      await eventually(async () => (await storedKeys(ownDb, 'his-orders')).length === ids.length);
      // The second node comes up while the first is stuck on the batch: the first one's heartbeat keeps it off.
      await otherNode.start();
      await engine.kill('SIGKILL');
    } finally {
      await lock.rollback();
    }
    // Nothing expires the dead node's lease here but time: a lease of 3 s, not renewed any more.
    await eventually(async () => (await hisDb('his_orders').where({ status: 'D' }).pluck('id')).length === ids.length);
    expect(await storedKeys(ownDb, 'his-orders')).toEqual(ids.map(String));
    engine = otherNode;
  }, 120000);

  it('resumes from the high-water mark it persisted before a restart', async () => {
    if (!engine.child || engine.child.exitCode !== null || engine.child.signalCode) await engine.start();
    await hisDb('his_results').insert([1, 2, 3].map((id) => ({ id, seq: id, body: `结果 ${id}` })));
    await eventually(async () => (await storedKeys(ownDb, 'his-results')).length === 3);
    await engine.kill('SIGTERM');

    // Row 10 sits behind the mark (seq 2 ≤ 3): a poller that forgot its mark would read it, one that kept it never
    // does; row 11 is past the mark and in the same ordered scan, so once it is stored row 10 has had its chance.
    await hisDb('his_results').insert([{ id: 10, seq: 2, body: '迟到' }, { id: 11, seq: 4, body: '结果 4' }]);
    await engine.start();
    await eventually(async () => (await storedKeys(ownDb, 'his-results')).includes('11'));
    expect(await storedKeys(ownDb, 'his-results')).toEqual(['1', '2', '3', '11']);
  }, 120000);
});
