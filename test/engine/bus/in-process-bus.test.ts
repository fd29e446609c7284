import { InProcessBus } from '../../../engine/bus/in-process-bus';
import { ALL_DATABASES, createTestDatabase } from '../../support/databases';
import { busContract, fixtureOf } from './bus-contract';

for (const kind of ALL_DATABASES) {
  busContract(`in-process bus on ${kind}`, async () => {
    const database = await createTestDatabase(kind);
    const db = database.open();
    return fixtureOf(() => new InProcessBus(db, { pollMs: 10 }), async () => {
      await db.destroy();
      await database.drop();
    });
  });
}
