import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import express, { Express } from 'express';
import type { Knex } from 'knex';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Bus } from './bus/bus';
import { InProcessBus } from './bus/in-process-bus';
import { RabbitMqBus } from './bus/rabbitmq-bus';
import type { ChannelDefinition } from './channel/channel';
import type { ConnectorRegistry } from './channel/connector-registry';
import { channelFromYaml, loadChannelDirectory } from './channel/yaml-channel-loader';
import type { LingshuConfig } from './config/config';
import { dialectOf, openDatabase, openMessageStoreDatabase } from './db';
import { DirectRoute, withDirectRoutes } from './http/direct-routes';
import { healthRoutes } from './http/health';
import { opsApi } from './http/ops-api';
import { childLogger } from './logger';
import { KnexMessageStore } from './message-store/knex-message-store';
import type { MessageStore } from './message-store/types';
import { PgStatisticsKeeper } from './pg-statistics';
import { Engine, EngineError } from './runtime/engine';
import { SqliteCheckpointer, sqliteFileOf } from './sqlite-checkpointer';
import { Scheduler } from './scheduler';

export interface ServerOptions {
  config: LingshuConfig;
  registry: ConnectorRegistry;
  /** More YAML channel folders after config.channelsDir (the demo profile's demo channels). */
  extraChannelDirs?: string[];
  /** Channels declared in TypeScript; YAML ones are read from config.channelsDir. */
  channels?: (db: Knex, bus: Bus) => ChannelDefinition[];
  /** Extra routes (FHIR, admin UI, demo token issuer) mounted before the engine's. */
  mount?: (app: Express, parts: { db: Knex; bus: Bus }) => Mounted | Promise<Mounted>;
}

/**
 * What a mounted part needs at shutdown (it stops after the HTTP port closes and before the bus and database), and
 * the prefixes it serves without express (see engine/http/direct-routes).
 */
export type Mounted = void | { stop(): Promise<void>; direct?: DirectRoute[] };

export interface RunningServer {
  app: Express;
  server: http.Server;
  port: number;
  engine: Engine;
  store: MessageStore;
  bus: Bus;
  db: Knex;
  stop(): Promise<void>;
}

const log = childLogger({ component: 'server' });

/** Wires database, message store, bus, scheduler, channels and the HTTP port; hospital-agnostic. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, registry } = options;
  const db = openDatabase(config.db || undefined, { pool: config.dbPool || undefined, sqliteReadWorkers: config.sqliteReadWorkers });
  const storeDb = openMessageStoreDatabase(config.db || undefined, db);
  const store = new KnexMessageStore(storeDb);
  await store.migrate();
  const statistics = dialectOf(db) === 'postgres' ? new PgStatisticsKeeper(db, childLogger({ component: 'statistics' })) : undefined;
  statistics?.start();
  const sqliteFile = sqliteFileOf(db);
  const checkpointer = sqliteFile ? new SqliteCheckpointer(db, sqliteFile, childLogger({ component: 'sqlite-checkpoint' })) : undefined;
  await checkpointer?.start();
  const bus: Bus = config.bus
    ? new RabbitMqBus(config.bus, { prefix: config.rabbitmq.prefix, partitions: config.rabbitmq.partitions, logger: (level, msg, meta) => log.log(level, msg, meta) })
    : new InProcessBus(db, { logger: (level, msg, meta) => log.log(level, msg, meta) });
  await bus.start();
  const scheduler = new Scheduler(db, { nodeId: config.nodeId });
  await scheduler.migrate();
  const engine = new Engine({
    store, bus, scheduler, log: childLogger({ component: 'engine' }), defaultQueue: config.engine.defaultQueue,
    queuePrefix: config.rabbitmq.prefix, dispatchSweepMs: config.engine.dispatchSweepMs, roles: config.engine.roles,
  });

  // Mounted parts (the FHIR store) come up before any channel is deployed: channels write into them.
  const app = express();
  app.disable('x-powered-by');
  const mounted = await options.mount?.(app, { db, bus });

  const channelDirs = [config.channelsDir, ...(options.extraChannelDirs ?? [])].map((d) => path.resolve(d));
  const codeChannels = () => options.channels?.(db, bus) ?? [];
  const deploySafely = async (def: ChannelDefinition) => {
    try {
      await engine.deploy(def);
    } catch (err) {
      log.error('channel not deployed', { channel: def.id, origin: def.origin, error: (err as Error).message });
    }
  };
  const loaded = { channels: [] as ChannelDefinition[], errors: [] as ReturnType<typeof loadChannelDirectory>['errors'] };
  for (const dir of channelDirs) {
    const found = loadChannelDirectory(dir, registry, { db, bus });
    loaded.channels.push(...found.channels);
    loaded.errors.push(...found.errors);
  }
  for (const err of loaded.errors) log.error('invalid channel definition; not deployed', { file: err.origin, channel: err.channelId, field: err.field, error: err.message });
  for (const def of [...loaded.channels, ...codeChannels()]) await deploySafely(def);
  await engine.recover();
  await engine.start();

  // Re-reads the channel's definition, so that deploying after an edit of its YAML file picks the edit up.
  const reload = async (id: string) => {
    const code = codeChannels().find((c) => c.id === id);
    if (code) return engine.deploy(code);
    const file = channelDirs.flatMap((dir) => ['.yaml', '.yml'].map((ext) => path.join(dir, id + ext))).find((f) => fs.existsSync(f));
    if (!file) throw new EngineError(404, `no channel ${id} in ${channelDirs.join(', ')} or in code`);
    await engine.deploy(channelFromYaml(fs.readFileSync(file, 'utf8'), file, registry, { db, bus }));
  };

  scheduler.schedule('engine:prune', config.engine.pruneCron, async () => {
    // 0 days in config means keep forever, which the store spells as no limit.
    const policies = engine.definitions().map((d) => {
      const { contentDays, metadataDays } = d.prune ?? config.engine.defaultPrune;
      return { channelId: d.id, contentDays: contentDays || undefined, metadataDays: metadataDays || undefined };
    });
    const result = await store.prune(policies);
    log.info('message store pruned', { ...result });
  });

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  app.use('/health', healthRoutes(db, bus));
  app.get('/metrics', async (_req, res) => {
    const text = (await metrics.metrics()) + (await engine.stats.registry.metrics());
    res.type(metrics.contentType).send(text);
  });
  app.use('/api', opsApi(engine, store, reload));
  app.use('/channels/:channelId', engine.inboundHandler());
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.too.large') res.status(413).json({ error: 'request body too large' });
    else {
      log.error('request failed', { error: e.message });
      res.status(e.status && e.status < 500 ? e.status : 500).json({ error: e.status && e.status < 500 ? e.message : 'internal error' });
    }
  });

  const server = http.createServer(withDirectRoutes(app, mounted?.direct ?? []));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  log.info('Lingshu listening', { port, profile: config.profile, db: db.client.config.client, bus: bus.kind, roles: engine.roles });

  let stopped = false;
  return {
    app, server, port, engine, store, bus, db,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await scheduler.stop();
      await statistics?.stop();
      if (mounted) await mounted.stop();
      await engine.stop();
      await bus.close();
      await store.close();
      if (storeDb !== db) await storeDb.destroy();
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}
