import { RabbitMqBus } from '../../../engine/bus/rabbitmq-bus';
import { createFhirStore, FhirStore } from '../../../fhir-resources/store/fhir-store';
import { OutboxRelay } from '../../../fhir-resources/store/outbox-relay';
import { RABBIT_URL, uniqueName } from '../../support/databases';
import { collect, Collected, eventually, refusingFirst } from './relay-fixture';
import { FakeSearchIndex, openStore, patient, StoreFixture } from './store-fixture';

// The store side is covered on every database by outbox-relay.test.ts; here the bus is the real RabbitMQ.
describe('FHIR outbox relay with RabbitMQ', () => {
  let fx: StoreFixture;
  let bus: RabbitMqBus;
  let events: Collected;
  let store: FhirStore;

  beforeEach(async () => {
    fx = await openStore('postgres');
    // A unique prefix keeps this run's `fhir` exchange and queues apart from every other run on the broker.
    bus = new RabbitMqBus(RABBIT_URL, { prefix: `${uniqueName('lingshu_t')}.`, partitions: 2 });
    await bus.start();
    events = await collect(bus, 'patient-events', 'Patient.*');
    store = await createFhirStore({ db: fx.db, bus, searchIndex: new FakeSearchIndex(), relay: { pollMs: 100 } });
  });
  afterEach(async () => {
    await store.relay.stop();
    await events.subscription.close();
    for (const q of bus.queueNames()) await bus.removeQueue(q);
    for (const x of bus.exchangeNames()) await bus.removeExchange(x);
    await bus.close();
    await fx.cleanup();
  });

  it('events of committed writes reach a queue bound with bindTopic(queue, fhir, Patient.*), a resource\'s in version order', async () => {
    const { repository } = store;
    const { resource } = await repository.create(patient('张'));
    await repository.update({ ...resource, active: true });
    await repository.create({ resourceType: 'Observation', status: 'final', code: { text: 'not bound' } });
    await repository.delete('Patient', resource.id as string);
    await eventually('three Patient events', () => events.deliveries.length >= 3);
    expect(events.bodies().map((b) => [b.id, b.versionId, b.action])).toEqual([
      [resource.id, '1', 'create'], [resource.id, '2', 'update'], [resource.id, '3', 'delete'],
    ]);
    expect(events.deliveries[0].key).toBe(`Patient/${resource.id}`);
  });

  it('a write whose transaction fails publishes no event', async () => {
    const { repository } = store;
    await repository.transaction(async (tx) => {
      await tx.create(patient('回滚'));
      throw new Error('rolled back');
    }).catch(() => undefined);
    const { resource: marker } = await repository.create(patient('标记'));
    await eventually('the marker event', () => events.bodies().some((b) => b.id === marker.id));
    expect(events.bodies().map((b) => b.id)).toEqual([marker.id]);
  });

  it('while publishes to RabbitMQ fail (a gate refusing the first 4, as the broker cannot be stopped per test) writes succeed and the events arrive afterwards', async () => {
    await store.relay.stop();
    const gate = refusingFirst(bus, 4);
    const relay = new OutboxRelay(fx.db, gate, { pollMs: 100, backoff: { initialDelayMs: 10, maxDelayMs: 40, multiplier: 2, jitter: 0 } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await store.repository.create(patient(`等待${i}`))).resource.id as string);
    relay.start();
    try {
      await eventually('the delayed events', () => events.deliveries.length >= 3);
      // Each event is keyed by its resource and partitioned: order holds per resource, not across these three.
      expect(events.bodies().map((b) => b.id).sort()).toEqual([...ids].sort());
      expect(gate.attempts).toBeGreaterThan(4);
    } finally {
      await relay.stop();
    }
  });
});
