import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { interpolateEnv, MissingEnvError } from './env-interpolation';
import { z } from 'zod';
import { queuePolicySchema, prunePolicySchema } from '../config/config';
import { ChannelDefinition, ChannelDefinitionError, validateChannel } from './channel';
import { ConnectorRegistry, FactoryContext } from './connector-registry';

const typed = z.object({ type: z.string() }).passthrough();

const channelFileSchema = z.object({
  id: z.string(),
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  source: typed,
  filters: z.array(z.object({ name: z.string() }).passthrough()).default([]),
  transformer: z.string().optional(),
  destinations: z.array(typed.extend({ name: z.string(), queue: queuePolicySchema.partial().optional() })).min(1),
  prune: prunePolicySchema.optional(),
}).strict();

export interface LoadedChannels {
  channels: ChannelDefinition[];
  /** One per invalid file: the engine logs them and deploys the others. */
  errors: ChannelDefinitionError[];
}

function fieldPath(p: PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(root)';
}

/** Builds a channel from one YAML document; throws ChannelDefinitionError naming file, channel and field. */
export function channelFromYaml(text: string, origin: string, registry: ConnectorRegistry, base: Omit<FactoryContext, 'channelId'>): ChannelDefinition {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ChannelDefinitionError(origin, '', '(yaml)', (err as Error).message);
  }
  const guessId = typeof (doc as { id?: unknown })?.id === 'string' ? (doc as { id: string }).id : '';
  try {
    doc = interpolateEnv(doc);
  } catch (err) {
    if (err instanceof MissingEnvError) throw new ChannelDefinitionError(origin, guessId, err.field, err.message);
    throw err;
  }
  const parsed = channelFileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ChannelDefinitionError(origin, guessId, fieldPath(issue.path), issue.message);
  }
  const spec = parsed.data;
  const fail = (field: string, detail: string): never => { throw new ChannelDefinitionError(origin, spec.id, field, detail); };
  const options = <T>(schema: z.ZodType, value: unknown, field: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      fail(`${field}${issue.path.length ? '.' + fieldPath(issue.path) : ''}`, issue.message);
    }
    return (r as { data: T }).data;
  };
  const ctx: FactoryContext = { ...base, channelId: spec.id };
  const { type: sourceType, ...sourceOptions } = spec.source;
  const sourceFactory = registry.sources.get(sourceType) ?? fail('source.type', `unknown source type "${sourceType}" (known: ${[...registry.sources.keys()].join(', ')})`);
  const source = sourceFactory.create(options(sourceFactory.schema, sourceOptions, 'source'), ctx);
  const filters = spec.filters.map(({ name, ...opts }, i) => {
    const make = registry.filters.get(name) ?? fail(`filters[${i}].name`, `unknown filter "${name}"`);
    return make(opts);
  });
  const transformer = spec.transformer === undefined ? undefined
    : registry.transformers.get(spec.transformer) ?? fail('transformer', `unknown transformer "${spec.transformer}"`);
  const destinations = spec.destinations.map((d, i) => {
    const { type, name, queue, ...rest } = d;
    const factory = registry.destinations.get(type) ?? fail(`destinations[${i}].type`, `unknown destination type "${type}" (known: ${[...registry.destinations.keys()].join(', ')})`);
    return { name, queue, connector: factory.create(options(factory.schema, rest, `destinations[${i}]`), ctx) };
  });
  const def: ChannelDefinition = { id: spec.id, description: spec.description, source, filters, transformer, destinations, prune: spec.prune, origin };
  validateChannel(def);
  return def;
}

/** Reads every *.yaml / *.yml in `dir`; a bad file is reported, not fatal to the others. */
export function loadChannelDirectory(dir: string, registry: ConnectorRegistry, base: Omit<FactoryContext, 'channelId'>): LoadedChannels {
  const result: LoadedChannels = { channels: [], errors: [] };
  if (!fs.existsSync(dir)) return result;
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const file = path.join(dir, name);
    try {
      const text = fs.readFileSync(file, 'utf8');
      if ((YAML.parse(text) as { enabled?: boolean } | null)?.enabled === false) continue;
      result.channels.push(channelFromYaml(text, file, registry, base));
    } catch (err) {
      result.errors.push(err instanceof ChannelDefinitionError ? err : new ChannelDefinitionError(file, '', '(file)', (err as Error).message));
    }
  }
  return result;
}
