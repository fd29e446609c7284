import { RabbitMqBus } from '../../../engine/bus/rabbitmq-bus';
import { Bus } from '../../../engine/bus/bus';
import { RABBIT_URL, uniqueName } from '../../support/databases';
import { atMost, busContract } from './bus-contract';

busContract('RabbitMQ bus', async () => {
  // Unique broker object names per fixture, removed again in cleanup.
  const prefix = `${uniqueName('lingshu_t')}.`;
  const buses: RabbitMqBus[] = [];
  const open = async (): Promise<Bus> => {
    const bus = new RabbitMqBus(RABBIT_URL, { prefix, partitions: 4 });
    await bus.start();
    buses.push(bus);
    return bus;
  };
  const bus = await open();
  return {
    bus,
    reopen: open,
    crash: (b) => (b as RabbitMqBus).abort(),
    cleanup: async () => {
      const queues = new Set(buses.flatMap((b) => b.queueNames()));
      for (const b of buses) await atMost(5000, b.close());
      for (const b of buses) await b.abort();
      const admin = new RabbitMqBus(RABBIT_URL, { prefix, partitions: 4 });
      await admin.start();
      for (const q of queues) await admin.removeQueue(q);
      await admin.close();
    },
  };
});
