type Query = (...args: unknown[]) => unknown;
// The driver ships no types (and @types/pg is not a dependency): only its query method is touched here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Client } = require('pg') as { Client: { prototype: { query: Query } } };

/**
 * The SQL texts sent to PostgreSQL while `work` runs, whoever sends them: knex's queries and the store's named
 * prepared statements, which go to the driver's connection directly and so are not among knex's query events.
 * `before` runs ahead of a statement and may hold it back (a test's interloper).
 */
export async function pgStatementsDuring(
  work: () => Promise<unknown>, before?: (text: string) => Promise<void> | void,
): Promise<string[]> {
  const texts: string[] = [];
  const original = Client.prototype.query;
  const spy = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: unknown, ...args: unknown[]) {
    const config = args[0] as string | { text?: string };
    const text = typeof config === 'string' ? config : config?.text ?? '';
    texts.push(text);
    const send = () => original.apply(this, args);
    if (!before) return send();
    return Promise.resolve(before(text)).then(send);
  });
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return texts;
}
