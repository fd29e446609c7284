import { ConnectorRegistry } from '../engine/channel/connector-registry';
import type { Repository } from '../fhir-resources/store/repository';
import { fhirEventsSchema, fhirEventsSource } from './fhir/fhir-events-source';
import { fhirTransaction, fhirTransactionSchema } from './fhir/fhir-transaction-destination';
import { httpSource, httpSourceSchema } from './http/http-source';
import { httpSender, httpSenderSchema } from './http/http-sender';
import { amqpConsumer, amqpConsumerSchema } from './amqp/amqp-consumer';
import { amqpPublisher, amqpPublisherSchema } from './amqp/amqp-publisher';
import { HttpSmsGateway, httpSmsGatewaySchema } from './sms/http-sms-gateway';
import { smsReceiptSource } from './sms/sms-receipt-source';
import { smsSender } from './sms/sms-sender';
import { tableWriter, tableWriterSchema } from './database/table-writer';
import { hipSource, hipSourceSchema } from './soap/hip-source';
import { soapDestination, soapDestinationSchema } from './soap/soap-destination';
import { soapSource, soapSourceSchema } from './soap/soap-source';
import { mllpListener, mllpListenerSchema } from './mllp/mllp-listener';
import { mllpSender, mllpSenderSchema } from './mllp/mllp-sender';
import { databasePoller, databasePollerSchema } from './database/polling-reader';
import { statementWriter, statementWriterSchema } from './database/statement-writer';

/** What connectors may need beyond the engine: Lingshu's own FHIR store, for the `fhir-*` types. */
export interface AdapterServices {
  fhir?: () => Repository;
}

/** Connector types that YAML channels can name. Each adapter adds its own here as it is built. */
export function adapterRegistry(services: AdapterServices = {}): ConnectorRegistry {
  const registry = new ConnectorRegistry()
    .source('http', { schema: httpSourceSchema, create: (o) => httpSource(o) })
    .destination('table', { schema: tableWriterSchema, create: (o, ctx) => tableWriter(ctx.db, o) })
    .source('database-poller', { schema: databasePollerSchema, create: (o, ctx) => databasePoller(ctx.db, o) })
    .destination('database-writer', { schema: statementWriterSchema, create: (o) => statementWriter(o) })
    .destination('http-sender', { schema: httpSenderSchema, create: (o) => httpSender(o) })
    .source('amqp-consumer', { schema: amqpConsumerSchema, create: (o, ctx) => amqpConsumer(ctx.db, o) })
    .destination('amqp-publisher', { schema: amqpPublisherSchema, create: (o) => amqpPublisher(o) })
    .destination('sms', { schema: httpSmsGatewaySchema, create: (o, ctx) => smsSender(ctx.db, () => new HttpSmsGateway(o)) })
    .source('sms-receipts', { schema: httpSmsGatewaySchema, create: (o, ctx) => smsReceiptSource(ctx.db, () => new HttpSmsGateway(o)) })
    .source('mllp', { schema: mllpListenerSchema, create: (o) => mllpListener(o) })
    .destination('mllp', { schema: mllpSenderSchema, create: (o) => mllpSender(o) })
    .source('soap', { schema: soapSourceSchema, create: (o) => soapSource(o) })
    .source('hl7v3-hip', { schema: hipSourceSchema, create: (o) => hipSource(o) })
    .destination('soap', { schema: soapDestinationSchema, create: (o) => soapDestination(o) })
    .transformer('passthrough', (m) => m.content);
  const { fhir } = services;
  if (fhir) {
    registry
      .destination('fhir-transaction', { schema: fhirTransactionSchema, create: () => fhirTransaction(fhir) })
      .source('fhir-events', {
        schema: fhirEventsSchema,
        create: (o, ctx) => {
          if (!ctx.bus) throw new Error('the fhir-events source needs the engine bus');
          return fhirEventsSource(ctx.bus, ctx.db, fhir, o);
        },
      });
  }
  return registry;
}
