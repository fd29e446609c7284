import type { Observation } from '@medplum/fhirtypes';
import { PageTemplates } from '../../../fhir-resources/search/page-templates';
import type { RowRestriction } from '../../../fhir-resources/store/repository';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { ALL_DATABASES } from '../../support/databases';
import { request, SearchHarness } from './search-harness';

/*
 * A chart search's page SQL is compiled once per shape and filled in with each search's values (page-templates.ts).
 * Every page below is compared with the plain path's (no combo rows, so no template), across patients, codes and
 * cursors whose sort values are present or missing.
 */
const LOINC = 'http://loinc.org';

function observation(id: string, patient: string, code: string, day?: number): Observation {
  return {
    resourceType: 'Observation', id, status: 'final', subject: { reference: `Patient/${patient}` },
    code: { coding: [{ system: LOINC, code }] },
    ...(day === undefined ? {} : { effectiveDateTime: `2024-05-${String(day).padStart(2, '0')}T08:00:00Z` }),
  };
}

const OBSERVATIONS: Observation[] = [
  ...[1, 2, 3, 4, 5, 6, 7].map((d) => observation(`a${d}`, 'p1', '718-7', d)),
  observation('a8', 'p1', '718-7'), observation('a9', 'p1', '718-7'),
  ...[3, 5, 9].map((d) => observation(`b${d}`, 'p2', '718-7', d)),
  ...[2, 4].map((d) => observation(`c${d}`, 'p1', '789-8', d)),
];

describe.each(ALL_DATABASES)('page templates on %s', (kind) => {
  let h: SearchHarness;
  const plain = new KnexSearchIndex({ combos: false });
  beforeAll(async () => {
    h = await SearchHarness.open(kind);
    await h.put({ resourceType: 'Patient', id: 'p1' }, { resourceType: 'Patient', id: 'p2' }, ...OBSERVATIONS);
  });
  afterAll(async () => h.close());

  /** Every page of `query` through `index`, as [ids of each page]. */
  async function pages(index: KnexSearchIndex, query: string): Promise<string[][]> {
    const out: string[][] = [];
    let cursor: string | undefined;
    do {
      const r = await index.search(h.db, { ...request(query), ...(cursor ? { cursor } : {}) } as never);
      out.push(r.resources.map((x) => x.id as string));
      cursor = r.next;
    } while (cursor && out.length < 20);
    return out;
  }

  it.each([
    'Observation?subject=Patient/p1&code=718-7&_sort=-date&_count=2',
    'Observation?subject=Patient/p2&code=718-7&_sort=-date&_count=2',
    'Observation?subject=Patient/p1&code=http://loinc.org|718-7&_sort=date&_count=3',
    'Observation?patient=p1&code=789-8&_sort=-date&_count=1',
    'Observation?subject=Patient/p1&code=718-7&_count=4',
    'Observation?subject=Patient/p9&code=718-7&_sort=-date&_count=2',
  ])('pages as the plain path pages: %s', async (query) => {
    expect(await pages(h.index, query)).toEqual(await pages(plain, query));
  });

  it(`compiles a shape once and fills it in for other patients and codes${kind === 'mysql' ? ' (not on MySQL, which runs knex)' : ''}`, async () => {
    const index = new KnexSearchIndex();
    const remember = jest.spyOn(PageTemplates.prototype, 'remember');
    try {
      expect(await h.ids(request('Observation?subject=Patient/p2&code=718-7&_sort=-date'))).toEqual(['b9', 'b5', 'b3']);
      const p1 = await index.search(h.db, request('Observation?subject=Patient/p1&code=718-7&_sort=-date'));
      const p2 = await index.search(h.db, request('Observation?subject=Patient/p2&code=718-7&_sort=-date'));
      const c = await index.search(h.db, request('Observation?subject=Patient/p1&code=789-8&_sort=-date'));
      expect(p1.resources.map((r) => r.id)).toEqual(['a7', 'a6', 'a5', 'a4', 'a3', 'a2', 'a1', 'a8', 'a9']);
      expect(p2.resources.map((r) => r.id)).toEqual(['b9', 'b5', 'b3']);
      expect(c.resources.map((r) => r.id)).toEqual(['c4', 'c2']);
      const mine = (remember.mock.instances as unknown[]).filter((t) => t === (index as unknown as { templates: PageTemplates }).templates);
      expect(mine.length).toBe(kind === 'mysql' ? 0 : 1);
    } finally {
      remember.mockRestore();
    }
  });

  it('keeps a narrowing restriction and an accurate total on the knex path, with the same answers', async () => {
    const remember = jest.spyOn(PageTemplates.prototype, 'remember');
    try {
      const index = new KnexSearchIndex();
      const total = await index.search(h.db, request('Observation?subject=Patient/p1&code=718-7&_total=accurate&_count=2'));
      expect(total.total).toBe(9);
      expect(total.resources).toHaveLength(2);
      // A restriction that narrows the rows (here: only the newest four) is SQL a template would not hold.
      const narrowing: RowRestriction = (_db, query, _type, alias) => { query.where(`${alias}.id`, '>', 'a5'); };
      expect(await h.ids('Observation?subject=Patient/p1&code=718-7&_sort=-date', { restriction: narrowing })).toEqual(['a7', 'a6', 'a8', 'a9']);
      expect(remember).not.toHaveBeenCalled();
      // One that says it adds nothing for the type (a caller who reads all of it) keeps the template.
      const none: RowRestriction = Object.assign(() => undefined, { addsNothingFor: (type: string) => type === 'Observation' });
      expect(await index.search(h.db, request('Observation?subject=Patient/p1&code=789-8&_sort=-date'), { restriction: none }).then((r) => r.resources.map((x) => x.id))).toEqual(['c4', 'c2']);
      expect(remember).toHaveBeenCalledTimes(kind === 'mysql' ? 0 : 1);
    } finally {
      remember.mockRestore();
    }
  });
});
