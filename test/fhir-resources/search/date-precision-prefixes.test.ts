import type { Observation } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness, sorted } from './search-harness';

/*
 * Every precision R4 allows in a date search value (search §3.1.1.4.6: the value's precision is the range it stands
 * for) with every prefix. For each precision the store holds points just around the value's range: the last
 * millisecond before it, its first and last millisecond, the first one after it, and one far in the past.
 */
interface Case {
  precision: string;
  value: string;
  /** The range the value stands for, first and last millisecond (UTC). */
  low: string;
  high: string;
}

const CASES: Case[] = [
  { precision: 'year', value: '2024', low: '2024-01-01T00:00:00.000Z', high: '2024-12-31T23:59:59.999Z' },
  { precision: 'month', value: '2024-02', low: '2024-02-01T00:00:00.000Z', high: '2024-02-29T23:59:59.999Z' },
  { precision: 'day', value: '2024-03-15', low: '2024-03-15T00:00:00.000Z', high: '2024-03-15T23:59:59.999Z' },
  { precision: 'minute', value: '2024-03-15T10:30', low: '2024-03-15T10:30:00.000Z', high: '2024-03-15T10:30:59.999Z' },
  { precision: 'minute-zoned', value: '2024-03-15T10:30+08:00', low: '2024-03-15T02:30:00.000Z', high: '2024-03-15T02:30:59.999Z' },
  { precision: 'second', value: '2024-03-15T10:30:15Z', low: '2024-03-15T10:30:15.000Z', high: '2024-03-15T10:30:15.999Z' },
  { precision: 'millisecond', value: '2024-03-15T10:30:15.250-05:00', low: '2024-03-15T15:30:15.250Z', high: '2024-03-15T15:30:15.250Z' },
];

const shift = (instant: string, ms: number): string => new Date(Date.parse(instant) + ms).toISOString();

function pointsOf(c: Case): Observation[] {
  const at = (name: string, instant: string): Observation => ({
    resourceType: 'Observation', id: `${c.precision}-${name}`, status: 'final',
    code: { coding: [{ system: 'urn:test:precision', code: c.precision }] }, effectiveDateTime: instant,
  });
  return [at('before', shift(c.low, -1)), at('start', c.low), at('end', c.high), at('after', shift(c.high, 1)), at('far', '1900-01-01T00:00:00.000Z')];
}

/** Which points each prefix finds: R4 search §3.1.1.4.6 applied to single instants. */
const EXPECTED: Record<string, string[]> = {
  eq: ['end', 'start'],
  ne: ['after', 'before', 'far'],
  gt: ['after'],
  lt: ['before', 'far'],
  ge: ['after', 'end', 'start'],
  le: ['before', 'end', 'far', 'start'],
  sa: ['after'],
  eb: ['before', 'far'],
  // Widened by at least a day (and 10% of the distance from now): the neighbours, not 1900.
  ap: ['after', 'before', 'end', 'start'],
};

describe.each(ALL_DATABASES)('date search values of every precision and prefix on %s', (kind) => {
  let h: SearchHarness;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put(...CASES.flatMap(pointsOf));
  });
  afterAll(async () => h.close());

  const rows = CASES.flatMap((c) => Object.entries(EXPECTED).map(([prefix, names]) => [c.precision, prefix, c, names] as const));
  it.each(rows)('a %s value with prefix %s finds exactly the points its range implies', async (_p, prefix, c, names) => {
    const query = `Observation?code=urn:test:precision|${c.precision}&date=${prefix}${encodeURIComponent(c.value)}`;
    const found = (await h.ids(query)).map((id) => id.slice(c.precision.length + 1));
    expect(sorted(found)).toEqual(names);
  });

  it('a value without a prefix is eq', async () => {
    expect(sorted(await h.ids('Observation?code=urn:test:precision|minute&date=2024-03-15T10:30'))).toEqual(['minute-end', 'minute-start']);
  });

  it('_lastUpdated takes a minute too', async () => {
    await h.put(
      { resourceType: 'Organization', id: 'just-before', meta: { lastUpdated: '2024-03-15T10:29:59.999Z' } },
      { resourceType: 'Organization', id: 'on-the-minute', meta: { lastUpdated: '2024-03-15T10:30:00.000Z' } },
    );
    expect(await h.ids('Organization?_lastUpdated=ge2024-03-15T10:30')).toEqual(['on-the-minute']);
    expect(await h.ids('Organization?_lastUpdated=lt2024-03-15T10:30')).toEqual(['just-before']);
  });

  it('an hour without minutes, a 13th month and a 31st of February are bad requests', async () => {
    await expect(h.ids('Observation?date=2024-03-15T10')).rejects.toThrow(/not a FHIR date/);
    await expect(h.ids('Observation?date=ge2024-13')).rejects.toThrow(/month/);
    await expect(h.ids('Observation?date=2024-02-31')).rejects.toThrow(/not a day/);
  });
});
