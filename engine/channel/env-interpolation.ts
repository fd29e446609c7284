import YAML from 'yaml';

/**
 * `${NAME}` and `${NAME:-default}` in channel YAML values, so that endpoints, ports and credentials come from the
 * environment of each installation instead of the file in the repository. A value that is a reference and nothing
 * else takes the type its text reads as in YAML (`port: ${MLLP_PORT:-2575}` is a number); a reference inside a longer
 * string is spliced in as text. A reference to an unset variable without a default is an error naming the field.
 */
const REFERENCE = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE = /^\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}$/;

export class MissingEnvError extends Error {
  constructor(readonly field: string, readonly variable: string) {
    super(`environment variable ${variable} is not set and the value gives no default (\${${variable}:-…})`);
  }
}

export function interpolateEnv(doc: unknown, env: NodeJS.ProcessEnv = process.env, field = ''): unknown {
  if (typeof doc === 'string') {
    const lookup = (name: string, fallback: string | undefined): string => {
      const value = env[name] ?? fallback;
      if (value === undefined) throw new MissingEnvError(field || '(root)', name);
      return value;
    };
    const whole = WHOLE.exec(doc);
    if (whole) return YAML.parse(lookup(whole[1], whole[2])) ?? '';
    return doc.replace(REFERENCE, (_m, name: string, fallback: string | undefined) => lookup(name, fallback));
  }
  if (Array.isArray(doc)) return doc.map((v, i) => interpolateEnv(v, env, `${field}[${i}]`));
  if (doc && typeof doc === 'object') {
    return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolateEnv(v, env, field ? `${field}.${k}` : k)]));
  }
  return doc;
}
