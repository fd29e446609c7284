import type { Knex } from 'knex';
import type { Bus } from '../engine/bus/bus';
import type { Repository } from '../fhir-resources/store/repository';
import type { HospitalConfig } from './hospital-config';

/** What a hospital channel is built from: its configuration, and the engine's store, bus and Lingshu's FHIR store. */
export interface ChannelDeps {
  hospital: HospitalConfig;
  fhir: () => Repository;
  db: Knex;
  bus: Bus;
}
