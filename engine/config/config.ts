import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';

export const queuePolicySchema = z.object({
  maxAttempts: z.number().int().min(1).max(1000),
  initialDelayMs: z.number().int().min(0),
  maxDelayMs: z.number().int().min(0),
  multiplier: z.number().min(1),
  jitter: z.number().min(0).max(1),
  concurrency: z.number().int().min(1).max(1000),
});
export type QueuePolicy = z.infer<typeof queuePolicySchema>;

export const prunePolicySchema = z.object({
  contentDays: z.number().int().min(0),
  metadataDays: z.number().int().min(0),
});

const configSchema = z.object({
  profile: z.enum(['demo', 'production']),
  port: z.number().int().min(0).max(65535),
  db: z.string(),
  /** Connections to a server database (0: twice this machine's cores plus one, see engine/db.ts). */
  dbPool: z.number().int().min(0).max(500),
  sqliteReadWorkers: z.number().int().min(0).max(16),
  bus: z.string().refine((v) => v === '' || /^amqps?:\/\//.test(v), 'must be empty (in-process bus) or an amqp:// URL'),
  nodeId: z.string(),
  logLevel: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']),
  channelsDir: z.string(),
  engine: z.object({
    defaultQueue: queuePolicySchema,
    dispatchSweepMs: z.number().int().min(100),
    pruneCron: z.string(),
    defaultPrune: prunePolicySchema,
    roles: z.array(z.enum(['ingest', 'deliver'])).min(1),
  }),
  rabbitmq: z.object({ partitions: z.number().int().min(1).max(64), prefix: z.string().min(1) }),
  // Identity, audit, privacy and HTTP hardening (fhir-resources/auth, audit, privacy). Secrets only from env or files.
  auth: z.object({
    issuer: z.string(),
    jwksUrl: z.string(),
    jwksFile: z.string(),
    algorithm: z.string(),
    sm2UserId: z.string().min(1),
    audience: z.string().min(1),
    clockToleranceSeconds: z.number().int().min(0).max(300),
    publicTypes: z.array(z.string()),
    demoTokenTtlSeconds: z.number().int().min(60).max(86400),
    rateLimit: z.object({ windowMs: z.number().int().min(1000), max: z.number().int().min(1) }),
  }),
  privacy: z.object({
    cipher: z.enum(['aes-256-gcm', 'sm4']),
    key: z.string(),
    keyFile: z.string(),
  }),
  audit: z.object({ hash: z.enum(['sha256', 'sm3']), retentionDays: z.number().int().min(0) }),
  http: z.object({
    corsOrigins: z.array(z.string()),
    notifyRateLimit: z.object({ windowMs: z.number().int().min(1000), max: z.number().int().min(1) }),
  }),
}).passthrough();

export type LingshuConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Names of the top-level keys that have a short env variable of their own. */
const SHORT_ENV: Record<string, string> = {
  LINGSHU_PORT: 'port', LINGSHU_DB: 'db', LINGSHU_DB_POOL: 'dbPool', LINGSHU_SQLITE_READ_WORKERS: 'sqliteReadWorkers', LINGSHU_BUS: 'bus', LINGSHU_PROFILE: 'profile',
  LINGSHU_LOG_LEVEL: 'logLevel', LINGSHU_NODE_ID: 'nodeId', LINGSHU_CHANNELS_DIR: 'channelsDir',
};

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Env strings become numbers or booleans where the default at that path is one, so YAML and env agree on types. */
function coerce(value: string, like: unknown): unknown {
  if (typeof like === 'number' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
  if (typeof like === 'boolean') return value === 'true' || value === '1';
  if (Array.isArray(like)) return value.split(',').map((v) => v.trim()).filter(Boolean);
  return value;
}

function setPath(target: Record<string, unknown>, keys: string[], value: string): void {
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  node[last] = coerce(value, node[last]);
}

function readYaml(file: string): Record<string, unknown> {
  try {
    return (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
      ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/**
 * config/default.yaml, then the file named by LINGSHU_CONFIG (or config/local.yaml when present), then env.
 * An invalid value stops start-up with the file and the field named.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, root = process.cwd()): LingshuConfig {
  const defaultFile = path.join(root, 'config', 'default.yaml');
  let raw = readYaml(defaultFile);
  let source = defaultFile;
  const extra = env.LINGSHU_CONFIG ?? (fs.existsSync(path.join(root, 'config', 'local.yaml')) ? path.join(root, 'config', 'local.yaml') : undefined);
  if (extra) {
    raw = merge(raw, readYaml(path.resolve(root, extra)));
    source = `${defaultFile} + ${extra}`;
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith('LINGSHU_')) continue;
    if (SHORT_ENV[name]) setPath(raw, [SHORT_ENV[name]], value);
    else if (name.includes('__')) setPath(raw, name.slice('LINGSHU_'.length).split('__').map(camel), value);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration (${source}, with LINGSHU_* env overrides): ${issues}`);
  }
  const config = parsed.data;
  if (!config.bus && !(config.engine.roles.includes('ingest') && config.engine.roles.includes('deliver'))) {
    throw new ConfigError(`invalid configuration (${source}, with LINGSHU_* env overrides): engine.roles: a node with only ${config.engine.roles.join(', ')} needs a RabbitMQ bus (bus) shared with the other nodes; the in-process bus serves one process`);
  }
  if (!config.nodeId) config.nodeId = `${os.hostname()}-${process.pid}`;
  return config;
}
