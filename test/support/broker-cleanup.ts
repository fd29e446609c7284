import type { Bus } from '../../engine/bus/bus';
import { RabbitMqBus } from '../../engine/bus/rabbitmq-bus';

/**
 * Every quorum queue is a Raft group on the broker: queues left behind by test runs pile up and slow RabbitMQ
 * down until it stops answering. A suite that ran an engine on RabbitMQ removes what it declared; call with the bus
 * before the server stops (to read the names) and run the returned function after it stopped.
 */
export function brokerCleanup(bus: Bus, url: string, prefix: string): () => Promise<void> {
  if (!(bus instanceof RabbitMqBus)) return async () => undefined;
  return async () => {
    const queues = bus.queueNames();
    const exchanges = bus.exchangeNames();
    const admin = new RabbitMqBus(url, { prefix });
    await admin.start();
    try {
      for (const q of queues) await admin.removeQueue(q).catch(() => undefined);
      for (const x of exchanges) await admin.removeExchange(x).catch(() => undefined);
    } finally {
      await admin.close();
    }
  };
}
