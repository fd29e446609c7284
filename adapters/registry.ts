import { ConnectorRegistry } from '../engine/channel/connector-registry';
import { httpSource, httpSourceSchema } from './http/http-source';
import { tableWriter, tableWriterSchema } from './database/table-writer';

/** Connector types that YAML channels can name. Each adapter adds its own here as it is built. */
export function adapterRegistry(): ConnectorRegistry {
  return new ConnectorRegistry()
    .source('http', { schema: httpSourceSchema, create: (o) => httpSource(o) })
    .destination('table', { schema: tableWriterSchema, create: (o, ctx) => tableWriter(ctx.db, o) })
    .transformer('passthrough', (m) => m.content);
}
