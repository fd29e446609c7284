import { randomUUID } from 'node:crypto';
import type { Observation } from '@medplum/fhirtypes';
import { ALL_DATABASES } from '../../support/databases';
import { SearchHarness } from './search-harness';

/**
 * 1,000 Observations paged while other writers insert more: every pre-existing resource is seen exactly once
 * whatever lands before or after the cursor, because pages are seeks on (sort values…, id), not offsets.
 */
const observation = (day: number | undefined): Observation => ({
  resourceType: 'Observation', id: randomUUID(), status: 'final', code: { text: 'paging' },
  // 40 distinct days for 1,000 rows, so most sort values tie and the id decides; every tenth has no date.
  ...(day === undefined ? {} : { effectiveDateTime: `2024-01-${String(1 + (day % 28)).padStart(2, '0')}T0${day % 10}:00:00Z` }),
});

describe.each(ALL_DATABASES)('cursor paging on %s', (kind) => {
  let h: SearchHarness;
  let existing: Set<string>;
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    const batch = Array.from({ length: 1000 }, (_, i) => observation(i % 10 === 0 ? undefined : i % 40));
    await h.put(...batch);
    existing = new Set(batch.map((o) => o.id as string));
    await h.analyze();
  });
  afterAll(async () => h.close());

  async function pageThrough(query: string): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined;
    let round = 0;
    do {
      round += 1;
      // Another writer inserts while the page is read: dates and ids spread over the whole order.
      const writer = h.put(...Array.from({ length: 15 }, (_, i) => observation(i % 5 === 0 ? undefined : (round * 7 + i) % 40)));
      const [result] = await Promise.all([h.search(cursor ? `${query}&_cursor=${cursor}` : query), writer]);
      seen.push(...result.resources.map((r) => r.id as string));
      cursor = result.next;
    } while (cursor);
    return seen;
  }

  function expectEveryExistingOnceAndNoDuplicates(seen: string[]): void {
    expect(new Set(seen).size).toBe(seen.length);
    const missing = [...existing].filter((id) => !seen.includes(id));
    expect(missing).toEqual([]);
  }

  it('pages in the default order without duplicates or gaps while rows are inserted', async () => {
    expectEveryExistingOnceAndNoDuplicates(await pageThrough('Observation?code:text=paging&_count=97'));
  });

  it('pages a descending date sort with missing dates without duplicates or gaps while rows are inserted', async () => {
    const seen = await pageThrough('Observation?code:text=paging&_sort=-date&_count=113');
    expectEveryExistingOnceAndNoDuplicates(seen);
  });

  it('pages in the requested order', async () => {
    const result = await h.search('Observation?code:text=paging&_sort=-date,_id&_count=1000');
    const days = result.resources.map((r) => (r as Observation).effectiveDateTime ?? '');
    const dated = days.filter((d) => d !== '');
    expect(dated).toEqual([...dated].sort().reverse());
    expect(days.slice(dated.length).every((d) => d === '')).toBe(true);
  });
});
