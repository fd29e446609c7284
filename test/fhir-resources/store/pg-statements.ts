type PgQuery = (this: unknown, ...args: unknown[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const { Client: PgClient } = require('pg') as { Client: { prototype: { query: PgQuery } } };

/** The statements node-postgres sends while `work` runs, by text (knex's and the store's own alike). */
export async function statementsDuring<T>(work: () => Promise<T>): Promise<{ result: T; texts: string[] }> {
  const texts: string[] = [];
  const original = PgClient.prototype.query;
  const spy = jest.spyOn(PgClient.prototype, 'query').mockImplementation(function (this: unknown, config: unknown, ...rest: unknown[]) {
    texts.push(typeof config === 'string' ? config : String((config as { text?: string }).text));
    return original.call(this, config, ...rest);
  } as never);
  try {
    return { result: await work(), texts };
  } finally {
    spy.mockRestore();
  }
}
