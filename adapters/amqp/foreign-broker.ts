import { z } from 'zod';

/** A vendor's RabbitMQ. Its URL carries a password, so channel files name the variable that holds it (`urlEnv`). */
export const foreignBrokerSchema = z.object({
  url: z.string().regex(/^amqps?:\/\//, 'an amqp:// or amqps:// URL').optional(),
  urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
});

export function brokerUrl(o: { url?: string; urlEnv?: string }): string {
  if (o.url && o.urlEnv) throw new Error('give either url or urlEnv, not both');
  const url = o.url ?? (o.urlEnv ? process.env[o.urlEnv] : undefined);
  if (!url) throw new Error(o.urlEnv ? `environment variable ${o.urlEnv} (broker URL) is not set` : 'url or urlEnv is required');
  return url;
}

/** The broker URL without its password, for error messages and logs. */
export function brokerLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'amqps:' ? 5671 : 5672)}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'broker';
  }
}
