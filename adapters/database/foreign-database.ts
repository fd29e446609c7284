import type { Knex } from 'knex';
import { z } from 'zod';
import { openDatabase } from '../../engine/db';

/**
 * Where a HIS / LIS database is. The URL usually carries a password, and no secret lives in the repository, so a
 * channel file names the environment variable that holds it (`urlEnv`); `url` is for password-less test and
 * demo databases and for TypeScript channels that read it from configuration.
 */
export const foreignDatabaseSchema = z.object({
  url: z.string().min(1).optional(),
  urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
  /** Connections kept open to the foreign database; HIS DBAs usually grant an interface account very few. */
  pool: z.number().int().min(1).max(20).default(2),
});

export type ForeignDatabaseOptions = z.input<typeof foreignDatabaseSchema>;

export function foreignDatabaseUrl(o: { url?: string; urlEnv?: string }): string {
  if (o.url && o.urlEnv) throw new Error('give either url or urlEnv, not both');
  if (o.url) return o.url;
  if (!o.urlEnv) throw new Error('url or urlEnv is required');
  const url = process.env[o.urlEnv];
  if (!url) throw new Error(`environment variable ${o.urlEnv} (database URL) is not set`);
  return url;
}

/** Opens lazily at connector start, so that a channel file validates on a machine that cannot reach the HIS. */
export function openForeignDatabase(o: { url?: string; urlEnv?: string; pool?: number }): Knex {
  const url = foreignDatabaseUrl(o);
  if (!/^(postgres|postgresql|mysql|mariadb|mssql|oracle):\/\//.test(url)) {
    throw new Error('a foreign database URL must be postgres://, mysql://, mariadb://, mssql:// or oracle://');
  }
  return openDatabase(url, { pool: o.pool ?? 2 });
}

/** A SQL identifier taken from configuration (table, column): plain names only, never quoted input. */
export const sqlIdentifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$.]{0,127}$/, 'a plain SQL identifier (letters, digits, _, $ and . for schema.table)');
