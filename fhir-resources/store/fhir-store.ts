import { Knex } from 'knex';
import type { Bus } from '../../engine/bus/bus';
import type { ContentCodec } from './content-codec';
import { KnexRepository } from './knex-repository';
import { OutboxRelay, OutboxRelayOptions } from './outbox-relay';
import type { SearchIndex } from './search-index-port';
import { migrateFhirStore } from './store-migrations';

export interface FhirStoreOptions {
  db: Knex;
  bus: Bus;
  searchIndex: SearchIndex;
  relay?: OutboxRelayOptions;
  /** Default true: the relay starts polling at once (start the bus first; until it is up the relay backs off). */
  startRelay?: boolean;
  /** Field encryption of stored content (fhir-resources/privacy); plain JSON when absent. */
  codec?: ContentCodec;
}

export interface FhirStore {
  repository: KnexRepository;
  relay: OutboxRelay;
}

/**
 * For the composition root: migrates the store and search tables, and returns the repository wired so that each
 * committed write wakes the outbox relay. On shutdown: `await relay.stop()` before closing the bus and database.
 */
export async function createFhirStore(options: FhirStoreOptions): Promise<FhirStore> {
  await migrateFhirStore(options.db);
  await options.searchIndex.migrate(options.db);
  const relay = new OutboxRelay(options.db, options.bus, options.relay);
  const repository = new KnexRepository(options.db, options.searchIndex, { onCommit: () => relay.wake(), codec: options.codec });
  if (options.startRelay !== false) relay.start();
  return { repository, relay };
}
