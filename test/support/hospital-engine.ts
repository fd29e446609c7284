import { adapterRegistry } from '../../adapters/registry';
import { hospitalChannels } from '../../channels/hospital-channels';
import { hospitalConfig, type HospitalConfig } from '../../channels/hospital-config';
import { hospitalOperations } from '../../channels/hospital-operations';
import { loadConfig } from '../../engine/config/config';
import { RunningServer, startServer } from '../../engine/server';
import { startSecurity } from '../../fhir-resources/auth/security-module';
import { FhirModule, startFhirModule } from '../../fhir-resources/fhir-module';
import type { Repository } from '../../fhir-resources/store/repository';
import { brokerCleanup } from './broker-cleanup';
import { createTestDatabase, RABBIT_URL, TestDatabase, uniqueName } from './databases';
import { freePort } from './engine-process';

/**
 * The product as main.ts composes it, for channel tests: a real engine on a free port with its own database and bus
 * prefix, the FHIR store behind security with the demo token issuer (or open, `security: false`), the hospital's channels and workflow operations
 * from a configuration the test shapes. Simulators are the test's own business.
 */
export interface HospitalEngine {
  /** The running engine (deploy / undeploy channels in a test). */
  engine: RunningServer['engine'];
  /** The engine's message store (what a channel received and did). */
  messages: RunningServer['store'];
  /** The engine's database (tables a channel writes to). */
  db: RunningServer['db'];
  base: string;
  port: number;
  store: () => Repository;
  hospital: HospitalConfig;
  token(role: string, subject?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface HospitalEngineOptions {
  db: TestDatabase['name'];
  amqp?: boolean;
  /** The engine's port, when the test must know it before the engine runs (a simulator's callback URL). */
  port?: number;
  /** The hospital configuration: the defaults of config/default.yaml (no channel on), turned into what the test needs. */
  hospital?: (defaults: HospitalConfig, ports: { http: number }) => HospitalConfig;
  /** More LINGSHU_* settings over the test defaults (the production profile, a YAML channel folder, queue timings …). */
  settings?: Record<string, string>;
  /** Without security /fhir trusts every caller and there is no /auth (tests that read the store with no token). */
  security?: boolean;
}

export async function startHospitalEngine(o: HospitalEngineOptions): Promise<HospitalEngine> {
  const database = await createTestDatabase(o.db);
  const prefix = uniqueName('lsh');
  const http = o.port ?? (await freePort());
  const config = loadConfig({
    LINGSHU_PORT: String(http), LINGSHU_DB: database.url, LINGSHU_BUS: o.amqp ? RABBIT_URL : '', LINGSHU_CHANNELS_DIR: '/nonexistent',
    LINGSHU_PROFILE: 'demo', LINGSHU_RABBITMQ__PREFIX: prefix, LINGSHU_ENGINE__DISPATCH_SWEEP_MS: '500', ...o.settings,
  });
  const defaults = hospitalConfig(config);
  const hospital = o.hospital?.(defaults, { http }) ?? defaults;
  let fhir: FhirModule | undefined;
  const store = () => fhir!.repository;
  let running: RunningServer;
  try {
    running = await startServer({
      config,
      registry: adapterRegistry({ fhir: store }),
      channels: (db, bus) => hospitalChannels({ hospital, db, bus, fhir: store }),
      mount: async (app, { db, bus }) => {
        const security = o.security === false ? undefined : await startSecurity(config, db);
        if (security) app.use('/auth', security.authRoutes);
        fhir = await startFhirModule({ db, bus, security, operations: hospitalOperations(hospital) });
        // As main.ts serves it: beside express, not through it.
        return { stop: async () => { security?.stop(); await fhir!.stop(); }, direct: [{ prefix: '/fhir', handler: fhir.router }] };
      },
    });
  } catch (err) {
    await database.drop();
    throw err;
  }
  const base = `http://127.0.0.1:${http}`;
  return {
    engine: running.engine, messages: running.store, db: running.db, base, port: http, store, hospital,
    async token(role, subject) {
      if (o.security === false) throw new Error('this engine runs without security: /fhir needs no token');
      const res = await fetch(`${base}/auth/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role, subject }) });
      return ((await res.json()) as { access_token: string }).access_token;
    },
    async stop() {
      const removeBrokerObjects = brokerCleanup(running.bus, RABBIT_URL, prefix);
      await running.stop();
      await removeBrokerObjects();
      await database.drop();
    },
  };
}
