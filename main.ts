import { adapterRegistry } from './adapters/registry';
import { loadConfig, ConfigError } from './engine/config/config';
import { logger } from './engine/logger';
import { startServer } from './engine/server';
import { notifyRateLimit, securityHeaders } from './fhir-resources/auth/http-hardening';
import { startSecurity } from './fhir-resources/auth/security-module';
import { FhirModule, startFhirModule } from './fhir-resources/fhir-module';
import { demoHospital, demoSimulatorEnv } from './channels/demo-hospital';
import { demoPaymentKeys, withDemoPaymentKeys } from './channels/demo-payment-keys';
import { hospitalChannels } from './channels/hospital-channels';
import { hospitalOperations } from './channels/hospital-operations';
import { hospitalConfig } from './channels/hospital-config';
import { withFreePeerPorts } from './simulators/free-ports';
import { startSimulatorHost } from './simulators/host';
import { allPeers, simulatorConfig } from './simulators/peers';

/** The composition root: the engine, the hospital's adapters and channels, and (demo profile) the demo peers. */
async function main(): Promise<void> {
  const config = loadConfig();
  const demo = config.profile === 'demo';
  // Before anything reads them: the demo hospital's channels and the peers must agree on the peers' ports.
  if (demo) Object.assign(process.env, await withFreePeerPorts(process.env));
  const paymentKeys = demo ? await demoPaymentKeys() : undefined;
  const hospital = demo ? demoHospital(hospitalConfig(config), { LINGSHU_PORT: String(config.port), ...process.env }, paymentKeys) : hospitalConfig(config);
  // The hospital's channels write into the FHIR store, which the mount below starts before any channel deploys.
  // The demo hospital: simulated peers speaking the real protocols to the hospital channels. They start before the
  // server (when its port is known up front) so that readiness also means the demo peers answer.
  const startSimulators = (lingshuPort: number) => {
    const sims = simulatorConfig(demoSimulatorEnv(hospital, process.env, lingshuPort));
    return startSimulatorHost(allPeers(paymentKeys ? withDemoPaymentKeys(sims, paymentKeys) : sims), { port: simulatorConfig().port });
  };
  let simulators = demo && config.port !== 0 ? await startSimulators(config.port) : undefined;
  let fhirModule: FhirModule | undefined;
  const repository = () => fhirModule!.repository;
  const running = await startServer({
    config,
    registry: adapterRegistry({ fhir: repository }),
    channels: (db, bus) => hospitalChannels({ hospital, db, bus, fhir: repository }),
    mount: async (app, { db, bus }) => {
      const security = await startSecurity(config, db);
      const headers = securityHeaders(config.http.corsOrigins);
      app.use(...headers);
      app.use('/channels/:channelId/notify', notifyRateLimit(config.http.notifyRateLimit.windowMs, config.http.notifyRateLimit.max));
      app.use('/auth', security.authRoutes);
      // Registered before the engine mounts /api, so it runs first.
      app.use('/api', security.opsGuard);
      const fhir = fhirModule = await startFhirModule({ db, bus, security, operations: hospitalOperations(hospital) });
      // Served beside express, not through it (engine/http/direct-routes), with the same headers.
      return { stop: async () => { security.stop(); await fhir.stop(); }, direct: [{ prefix: '/fhir', middleware: headers, handler: fhir.router }] };
    },
  });
  if (demo && !simulators) simulators = await startSimulators(running.port);
  if (simulators) logger.info('demo hospital simulators started', { control: `http://127.0.0.1:${simulators.port}/_sim/`, peers: simulators.peers.map((p) => p.name) });
  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    Promise.resolve(simulators?.stop()).then(() => running.stop()).then(() => process.exit(0), (err) => {
      logger.error('shutdown failed', { error: (err as Error).message });
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

process.on('unhandledRejection', (err) => logger.error('unhandled rejection', { error: (err as Error)?.message ?? String(err) }));

main().catch((err) => {
  if (err instanceof ConfigError) logger.error(err.message);
  // The Error itself: the log formatter keeps its message and code (and its stack at debug level). A `stack` field
  // of our own would be taken for winston's copy of one and replace the message with 'start-up failed'.
  else logger.error('start-up failed', { error: err });
  process.exit(1);
});
