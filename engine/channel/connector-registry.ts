import type { Knex } from 'knex';
import type { Bus } from '../bus/bus';
import { z } from 'zod';
import type { DestinationConnector, Filter, SourceConnector, Transformer } from './channel';

/**
 * YAML channels name their connectors by type; adapters register a factory and the schema of its options here,
 * so that a YAML file is validated field by field before anything is deployed.
 */
export interface ConnectorFactory<T> {
  schema: z.ZodType;
  create(options: any, context: FactoryContext): T;
}

export interface FactoryContext {
  channelId: string;
  /** The engine's own database, for connectors that keep state or write rows there. */
  db: Knex;
  /** The engine's bus, for sources that consume topic events (FHIR changes). Absent where a channel is only validated. */
  bus?: Bus;
}

export class ConnectorRegistry {
  readonly sources = new Map<string, ConnectorFactory<SourceConnector>>();
  readonly destinations = new Map<string, ConnectorFactory<DestinationConnector>>();
  readonly transformers = new Map<string, Transformer>();
  readonly filters = new Map<string, (options: any) => Filter>();

  source(type: string, factory: ConnectorFactory<SourceConnector>): this {
    this.sources.set(type, factory);
    return this;
  }

  destination(type: string, factory: ConnectorFactory<DestinationConnector>): this {
    this.destinations.set(type, factory);
    return this;
  }

  transformer(name: string, fn: Transformer): this {
    this.transformers.set(name, fn);
    return this;
  }

  filter(name: string, make: (options: any) => Filter): this {
    this.filters.set(name, make);
    return this;
  }
}
