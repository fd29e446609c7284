import type { Observation, Resource } from '@medplum/fhirtypes';
import { forgetParameterTypes, PgReadBatcher, PgReadBatchPorts, Rows } from '../../../fhir-resources/store/pg-read-batch';
import { SearchHarness } from '../search/search-harness';
import { statementsDuring } from './pg-statements';


const LOINC = 'http://loinc.org';

function observation(id: string, patient: string, code: string, day: number): Observation {
  return {
    resourceType: 'Observation', id, status: 'final', subject: { reference: `Patient/${patient}` },
    code: { coding: [{ system: LOINC, code }] }, effectiveDateTime: `2024-05-${String(day).padStart(2, '0')}T08:00:00+08:00`,
  };
}

/** Three patients, two codes, days in no particular order, so that each chart has its own order to keep. */
const resources: Resource[] = [
  ...['p1', 'p2', 'p3'].map((id): Resource => ({ resourceType: 'Patient', id })),
  ...Array.from({ length: 24 }, (_, i) => observation(`o${i}`, `p${(i % 3) + 1}`, i % 2 ? '718-7' : '789-8', ((i * 7) % 27) + 1)),
];

const QUERIES = ['p1', 'p2', 'p3', 'p4'].flatMap((p) => ['718-7', '789-8'].flatMap((code) => [
  `Observation?subject=Patient/${p}&code=${LOINC}|${code}&_sort=-date&_count=3`,
  `Observation?subject=Patient/${p}&code=${LOINC}|${code}&_sort=date`,
]));

describe('searches of one shape asked together on PostgreSQL', () => {
  let h: SearchHarness;
  beforeAll(async () => {
    forgetParameterTypes();
    h = await SearchHarness.open('postgres');
    await h.put(...resources);
  });
  afterAll(async () => h.close());

  it('run as one statement and answer each search as it would be answered alone', async () => {
    const alone: string[][] = [];
    for (const q of QUERIES) alone.push(await h.ids(q));
    expect(alone.filter((ids) => ids.length > 1).length).toBeGreaterThan(8);
    // The first turn teaches the batcher the texts' parameter types, asked beside its reads: on a loaded machine the
    // answer can come after them, so turns are repeated (a few at most) until one runs batched.
    expect(await Promise.all(QUERIES.map((q) => h.ids(q)))).toEqual(alone);
    for (let turn = 0; turn < 10; turn++) {
      const taught = await statementsDuring(() => Promise.all(QUERIES.map((q) => h.ids(q))));
      expect(taught.result).toEqual(alone);
      if (taught.texts.some((t) => t.includes('lingshu_batch_ord'))) break;
    }
    const { result, texts } = await statementsDuring(() => Promise.all(QUERIES.map((q) => h.ids(q))));
    expect(result).toEqual(alone);
    const batched = texts.filter((t) => t.includes('lingshu_batch_ord'));
    // Two shapes (a descending page of 3, an ascending one): one statement each.
    expect(batched).toHaveLength(2);
    expect(texts.filter((t) => t.includes('fhir_idx_combo'))).toHaveLength(2);
  });
});

describe('PgReadBatcher', () => {
  const ports = (types: string[], run: PgReadBatchPorts['run']): PgReadBatchPorts & { texts: string[] } => {
    const texts: string[] = [];
    return { texts, run: (text, values) => { texts.push(text); return run(text, values); }, parameterTypes: async () => types };
  };
  const turn = () => new Promise((r) => setImmediate(r));

  beforeEach(() => forgetParameterTypes());

  it('runs a text with an array parameter one read at a time (unnest would flatten it)', async () => {
    const p = ports(['text', 'text[]'], async (_text, values) => [{ got: values[0] }]);
    const b = new PgReadBatcher(p);
    const text = 'select $1::text as got where $1 = any($2)';
    await Promise.all([b.rows(text, ['a', ['a']]), b.rows(text, ['b', ['b']])]);
    await turn();
    expect(await Promise.all([b.rows(text, ['c', ['c']]), b.rows(text, ['d', ['d']])])).toEqual([[{ got: 'c' }], [{ got: 'd' }]]);
    expect(p.texts.every((t) => t === text)).toBe(true);
  });

  it('fails every read of a batch whose statement fails, and only those', async () => {
    const p = ports(['text'], async (text, values) => {
      if (text.includes('lingshu_batch_ord')) throw new Error('statement failed');
      return [{ got: values[0] }] as Rows;
    });
    const b = new PgReadBatcher(p);
    const text = 'select $1::text as got';
    await Promise.all([b.rows(text, ['a']), b.rows(text, ['b'])]);
    await turn();
    const [x, y, other] = await Promise.allSettled([b.rows(text, ['c']), b.rows(text, ['d']), b.rows('select $1::text as other', ['e'])]);
    expect([x.status, y.status]).toEqual(['rejected', 'rejected']);
    expect((x as PromiseRejectedResult).reason.message).toBe('statement failed');
    expect(other).toEqual({ status: 'fulfilled', value: [{ got: 'e' }] });
  });

  it('gives each read of a batch its own rows in their order, and none of the batch columns', async () => {
    const p = ports(['text'], async () => [
      { lingshu_batch_ord: '2', lingshu_batch_row: '1', v: 'b1' },
      { lingshu_batch_ord: '1', lingshu_batch_row: '1', v: 'a1' },
      { lingshu_batch_ord: '2', lingshu_batch_row: '2', v: 'b2' },
    ]);
    const b = new PgReadBatcher(p);
    const text = 'select $1::text as v';
    await Promise.all([b.rows(text, ['a']), b.rows(text, ['b'])]);
    await turn();
    expect(await Promise.all([b.rows(text, ['a']), b.rows(text, ['b']), b.rows(text, ['c'])])).toEqual([[{ v: 'a1' }], [{ v: 'b1' }, { v: 'b2' }], []]);
  });
});
