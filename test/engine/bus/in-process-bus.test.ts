import { InProcessBus } from '../../../engine/bus/in-process-bus';
import { Bus } from '../../../engine/bus/bus';
import { ALL_DATABASES, createTestDatabase } from '../../support/databases';
import { atMost, busContract } from './bus-contract';

for (const kind of ALL_DATABASES) {
  busContract(`in-process bus on ${kind}`, async () => {
    const database = await createTestDatabase(kind);
    const db = database.open();
    const buses: InProcessBus[] = [];
    const open = async (): Promise<Bus> => {
      const bus = new InProcessBus(db, { pollMs: 10 });
      await bus.start();
      buses.push(bus);
      return bus;
    };
    const bus = await open();
    return {
      bus,
      reopen: open,
      crash: (b) => (b as InProcessBus).abort(),
      cleanup: async () => {
        for (const b of buses) await atMost(5000, b.close());
        for (const b of buses) await b.abort();
        await db.destroy();
        await database.drop();
      },
    };
  });
}
