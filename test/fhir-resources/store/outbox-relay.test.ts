import { PassThrough } from 'node:stream';
import { InProcessBus } from '../../../engine/bus/in-process-bus';
import { createLogger } from '../../../engine/logger';
import { OutboxRelay } from '../../../fhir-resources/store/outbox-relay';
import { ALL_DATABASES, uniqueName } from '../../support/databases';
import { collect, Collected, eventually, refusingFirst } from './relay-fixture';
import { openStore, patient, StoreFixture } from './store-fixture';

describe.each(ALL_DATABASES)('FHIR outbox relay with the in-process bus on %s', (kind) => {
  let fx: StoreFixture;
  let bus: InProcessBus;
  let events: Collected;
  const relays: OutboxRelay[] = [];
  const relay = (options: ConstructorParameters<typeof OutboxRelay>[2] = {}, publisher: ConstructorParameters<typeof OutboxRelay>[1] = bus) => {
    const r = new OutboxRelay(fx.db, publisher, { pollMs: 50, ...options });
    relays.push(r);
    return r;
  };

  // One database and bus per dialect; each test gets a fresh queue, bound after the rows earlier tests left behind
  // were published, so it sees only its own events.
  beforeAll(async () => {
    fx = await openStore(kind);
    bus = new InProcessBus(fx.db, { pollMs: 10 });
    await bus.start();
  });
  afterAll(async () => {
    await bus.close();
    await fx.cleanup();
  });
  beforeEach(async () => {
    await new OutboxRelay(fx.db, bus).drain();
    events = await collect(bus, uniqueName('fhir_patients'), 'Patient.*');
  });
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.stop();
    await events.subscription.close();
  });

  it('publishes committed writes in order with routing key, per-resource key and change body', async () => {
    const repo = fx.repository().withContext({ correlationId: 'corr-7' });
    const { resource } = await repo.create(patient('张'));
    await repo.update({ ...resource, active: true });
    await repo.delete('Patient', resource.id as string);
    expect(await relay().drain()).toBe(3);
    await eventually('three events', () => events.deliveries.length === 3);
    const seqs = (await fx.db('fhir_outbox').where({ resource_id: resource.id }).orderBy('seq')).map((r) => Number(r.seq));
    expect(events.deliveries.map((d) => [d.id, d.key, d.headers?.routingKey])).toEqual([
      [`fhir-event-${seqs[0]}`, `Patient/${resource.id}`, 'Patient.create'],
      [`fhir-event-${seqs[1]}`, `Patient/${resource.id}`, 'Patient.update'],
      [`fhir-event-${seqs[2]}`, `Patient/${resource.id}`, 'Patient.delete'],
    ]);
    expect(events.bodies()[1]).toEqual({ resourceType: 'Patient', id: resource.id, versionId: '2', action: 'update', correlationId: 'corr-7' });
  });

  it('a write whose transaction fails publishes no event', async () => {
    const repo = fx.repository();
    let doomed = '';
    await repo.transaction(async (tx) => {
      doomed = (await tx.create(patient('回滚'))).resource.id as string;
      throw new Error('rolled back');
    }).catch(() => undefined);
    const { resource: marker } = await repo.create(patient('标记'));
    await relay().drain();
    await eventually('the marker event', () => events.bodies().some((b) => b.id === marker.id));
    expect(events.bodies().map((b) => b.id)).toEqual([marker.id]);
    expect(doomed).not.toBe('');
  });

  it('rows once published are not published again', async () => {
    await fx.repository().create(patient('一次'));
    const r = relay();
    expect(await r.drain()).toBe(1);
    expect(await r.drain()).toBe(0);
    expect(await r.backlog()).toBe(0);
  });

  it('a running relay publishes a write as soon as the repository wakes it after commit', async () => {
    const r = relay({ pollMs: 3_600_000 });
    const repo = fx.repository({ onCommit: () => r.wake() });
    r.start();
    await eventually('the first idle run', async () => (await r.backlog()) === 0);
    const { resource } = await repo.create(patient('唤醒'));
    await eventually('the woken publish', () => events.bodies().some((b) => b.id === resource.id));
  });

  it('the commits of one moment leave in one publish, not one publish each', async () => {
    const batches: string[][] = [];
    const recording: Pick<typeof bus, 'publishTopic'> = {
      publishTopic: async (exchange, messages) => {
        batches.push(messages.map((m) => (m.body as { id: string }).id));
        await bus.publishTopic(exchange, messages);
      },
    };
    const r = relay({ pollMs: 3_600_000, wakeDelayMs: 500 }, recording);
    const repo = fx.repository({ onCommit: () => r.wake() });
    r.start();
    // Once a woken run has published, it claims nothing more: later commits wait for the next run.
    const { resource: first } = await repo.create(patient('先行'));
    await eventually('the first woken publish', () => events.bodies().some((b) => b.id === first.id));
    const created = await Promise.all([0, 1, 2, 3].map(async (i) => (await repo.create(patient(`同批${i}`))).resource.id as string));
    await eventually('the next woken publish', () => created.every((id) => events.bodies().some((b) => b.id === id)));
    expect(batches.filter((ids) => ids.some((id) => created.includes(id)))).toEqual([expect.arrayContaining(created)]);
  });

  it('while the bus refuses publishes (a gate refusing the first 3, standing in for a broker outage) writes succeed, rows wait and then all arrive', async () => {
    const gate = refusingFirst(bus, 3);
    const lines: string[] = [];
    const stream = new PassThrough().on('data', (chunk) => lines.push(String(chunk)));
    const logger = createLogger({ level: 'warn', stream });
    const r = relay({ backoff: { initialDelayMs: 10, maxDelayMs: 20, multiplier: 2, jitter: 0 }, logger }, gate);
    const repo = fx.repository({ onCommit: () => r.wake() });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await repo.create(patient(`等待${i}`))).resource.id as string);
    r.start();
    await eventually('all events after the outage', () => events.deliveries.length === 3);
    expect(events.bodies().map((b) => b.id)).toEqual(ids);
    expect(gate.attempts).toBeGreaterThan(3);
    expect(await r.backlog()).toBe(0);
    expect(lines.filter((l) => l.includes('could not publish change events'))).toHaveLength(3);
  });

  it('published rows older than the retention are pruned and unpublished ones kept', async () => {
    const repo = fx.repository();
    await repo.create(patient('旧'));
    const r = relay({ retentionMs: 60_000 });
    await r.drain();
    const { resource: fresh } = await repo.create(patient('新'));
    await r.prune(Date.now() + 120_000);
    expect((await fx.db('fhir_outbox').select('resource_id')).map((row) => row.resource_id)).toEqual([fresh.id]);
    expect(await r.backlog()).toBe(1);
  });

  if (kind !== 'sqlite') {
    // SQLite has one writer and one relay per file; on a server database several engine nodes share the outbox.
    it('two relays draining one database at once publish every event exactly once', async () => {
      const repo = fx.repository();
      for (let i = 0; i < 30; i++) await repo.create(patient(`节点${i}`));
      const [a, b] = [relay({ batchSize: 4 }), relay({ batchSize: 4 })];
      while ((await a.backlog()) > 0) await Promise.all([a.drain(), b.drain()]);
      await eventually('30 events', () => events.deliveries.length >= 30);
      expect(new Set(events.deliveries.map((d) => d.id)).size).toBe(30);
      expect(events.deliveries).toHaveLength(30);
    });

    it('a relay stops where another holds rows: a resource\'s later events never leave before its earlier ones', async () => {
      const repo = fx.repository();
      const first = (await repo.create(patient('在前'))).resource;
      await repo.update({ ...first, gender: 'male' });
      await repo.create(patient('在后'));
      const [held] = await fx.db('fhir_outbox').whereNull('published_at').orderBy('seq').limit(1).select('seq');
      // Another node's relay in the middle of publishing the oldest row: it holds its lock.
      const other = await fx.db.transaction();
      try {
        await other('fhir_outbox').where({ seq: held.seq }).forUpdate().select('seq');
        expect(await relay().publishBatch()).toBe(0);
      } finally {
        await other.rollback();
      }
      expect(await relay().publishBatch()).toBe(3);
      await eventually('3 events', () => events.deliveries.length >= 3);
      expect(events.deliveries.map((d) => `${(d.body as { id: string }).id === first.id ? 'first' : 'second'} ${(d.body as { versionId: string }).versionId}`))
        .toEqual(['first 1', 'first 2', 'second 1']);
      expect(await relay().backlog()).toBe(0);
    });
  }
});
