import { RabbitMqBus } from '../../../engine/bus/rabbitmq-bus';
import { RABBIT_URL, uniqueName } from '../../support/databases';
import { busContract, fixtureOf } from './bus-contract';

busContract('RabbitMQ bus', async () => {
  // Unique broker object names per fixture, removed again in cleanup.
  const prefix = `${uniqueName('lingshu_t')}.`;
  return fixtureOf(() => new RabbitMqBus(RABBIT_URL, { prefix, partitions: 4 }), async (opened) => {
    const queues = new Set(opened.flatMap((b) => b.queueNames()));
    const exchanges = new Set(opened.flatMap((b) => b.exchangeNames()));
    const admin = new RabbitMqBus(RABBIT_URL, { prefix, partitions: 4 });
    await admin.start();
    for (const q of queues) await admin.removeQueue(q);
    for (const x of exchanges) await admin.removeExchange(x);
    await admin.close();
  });
});
