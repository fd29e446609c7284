import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import type { Knex } from 'knex';
import { InProcessBus } from '../../../engine/bus/in-process-bus';
import type { Operation } from '../../../fhir-resources/operations/operation';
import { validateOperation } from '../../../fhir-resources/operations/validate';
import { fhirRouter } from '../../../fhir-resources/rest/fhir-router';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { createFhirStore, type FhirStore } from '../../../fhir-resources/store/fhir-store';
import type { Repository } from '../../../fhir-resources/store/repository';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

/**
 * The real stack the REST layer runs on in production: the knex store and search index on a fresh test database,
 * the in-process bus for the outbox, and the router mounted at /fhir of an express app listening on a free port.
 */
export interface FhirServerFixture {
  /** `http://127.0.0.1:<port>/fhir` */
  baseUrl: string;
  app: express.Express;
  db: Knex;
  repository: Repository;
  close(): Promise<void>;
}

export async function startFhirServer(kind: TestDatabase['name'], operations: Operation[] = [validateOperation]): Promise<FhirServerFixture> {
  const database = await createTestDatabase(kind);
  const db = database.open();
  const bus = new InProcessBus(db, { pollMs: 10 });
  await bus.start();
  let store: FhirStore | undefined;
  let server: Server | undefined;
  try {
    store = await createFhirStore({ db, bus, searchIndex: new KnexSearchIndex() });
    const app = express();
    app.use('/fhir', fhirRouter({ repository: store.repository, operations }));
    server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    const { port } = server.address() as AddressInfo;
    const started = store;
    const listening = server;
    return {
      baseUrl: `http://127.0.0.1:${port}/fhir`,
      app,
      db,
      repository: started.repository,
      close: async () => {
        listening.closeAllConnections();
        await new Promise<void>((resolve) => listening.close(() => resolve()));
        await started.relay.stop();
        await bus.close();
        await db.destroy();
        await database.drop();
      },
    };
  } catch (err) {
    server?.close();
    await store?.relay.stop();
    await bus.close();
    await db.destroy();
    await database.drop();
    throw err;
  }
}

export async function countRows(db: Knex, table: string): Promise<number> {
  const row = await db(table).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
