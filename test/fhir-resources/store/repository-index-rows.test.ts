import { Operator } from '@medplum/core';
import type { Patient, Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { ALL_DATABASES } from '../../support/databases';
import { countRows, openStore, patient, StoreFixture } from './store-fixture';

// The store writes the real index's rows with the statements that write each version (version-writer.ts).
const MRN = 'urn:oid:2.16.156.10011.1.12';
const INDEX_TABLES = new KnexSearchIndex().indexTables;

async function indexRowsOf(db: Knex, type: string, id: string): Promise<number> {
  let n = 0;
  for (const table of INDEX_TABLES) {
    const [row] = await db(table).where({ resource_type: type, resource_id: id }).count({ n: '*' });
    n += Number((row as { n: unknown }).n);
  }
  return n;
}

async function findByMrn(fx: StoreFixture, mrn: string): Promise<string[]> {
  const result = await fx.repository().search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${MRN}|${mrn}` }] });
  return result.resources.map((r: Resource) => r.id as string);
}

describe.each(ALL_DATABASES)('KnexRepository index rows on %s', (kind) => {
  let fx: StoreFixture;
  beforeAll(async () => { fx = await openStore(kind, 'real'); });
  afterAll(async () => { await fx.cleanup(); });

  it('a created resource is found by its identifier', async () => {
    const { resource } = await fx.repository().create(patient('张', { identifier: [{ system: MRN, value: 'I1' }] }));
    expect(await findByMrn(fx, 'I1')).toEqual([resource.id]);
  });

  it('an update replaces the index rows: the old value no longer matches, the new one does', async () => {
    const repo = fx.repository();
    const { resource: v1 } = await repo.create(patient('李', { identifier: [{ system: MRN, value: 'I2' }] }));
    const fresh = await indexRowsOf(fx.db, 'Patient', v1.id as string);
    await repo.update<Patient>({ ...v1, identifier: [{ system: MRN, value: 'I3' }] });
    expect(await findByMrn(fx, 'I2')).toEqual([]);
    expect(await findByMrn(fx, 'I3')).toEqual([v1.id]);
    expect(await indexRowsOf(fx.db, 'Patient', v1.id as string)).toBe(fresh);
  });

  it('a delete removes every index row of the resource', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('王', { identifier: [{ system: MRN, value: 'I4' }], birthDate: '1990-01-01' }));
    await repo.delete('Patient', resource.id as string);
    expect(await indexRowsOf(fx.db, 'Patient', resource.id as string)).toBe(0);
    expect(await findByMrn(fx, 'I4')).toEqual([]);
  });

  it('a resource with more index rows than one statement binds is indexed completely', async () => {
    const identifier = Array.from({ length: 3000 }, (_, i) => ({ system: MRN, value: `BIG${i}` }));
    const repo = fx.repository();
    const { resource } = await repo.create(patient('赵', { identifier }));
    expect(await findByMrn(fx, 'BIG2999')).toEqual([resource.id]);
    const rows = await indexRowsOf(fx.db, 'Patient', resource.id as string);
    expect(rows).toBeGreaterThan(3000);
    await repo.update<Patient>({ ...resource, gender: 'male' } as Patient);
    expect(await indexRowsOf(fx.db, 'Patient', resource.id as string)).toBe(rows + 1);
  });

  it('keeps values that an array or JSON literal would have to escape exactly as they were', async () => {
    const odd = ['含"引号"', 'back\\slash', '{braces},commas', 'NULL', ' padded ', 'emoji 😀 and 𠀀', "it's"];
    const repo = fx.repository();
    const { resource } = await repo.create(patient('周', { identifier: odd.map((value) => ({ system: MRN, value })) }));
    const stored = await fx.db('fhir_idx_token').where({ resource_type: 'Patient', resource_id: resource.id, param: 'identifier' }).select('value');
    expect(stored.map((r: { value: string }) => r.value).sort()).toEqual([...odd].sort());
    // Those without search syntax (a comma separates values, a backslash escapes) are found as they are.
    for (const value of odd.filter((v) => !/[,\\]|^ /.test(v))) expect(await findByMrn(fx, value)).toEqual([resource.id]);
    // Numbers (the quantity and number tables' doubles) and open ends stay numbers.
    const { resource: obs } = await repo.create({
      resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' }, valueQuantity: { value: 132.5, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
    } as Resource);
    const [q] = await fx.db('fhir_idx_quantity').where({ resource_type: 'Observation', resource_id: obs.id }).select('value', 'code');
    expect([Number(q.value), q.code]).toEqual([132.5, 'g/L']);
  });

  if (kind === 'postgres') {
    it('passes each index column as an array of the type PostgreSQL has for it', async () => {
      // The search index declares the types (search-index.ts pgTypes); a migration that changed a column would make
      // the arrays disagree with the table, and this says where.
      const declared = new KnexSearchIndex().indexRows({ ...patient('吴', { birthDate: '1980-02-03', identifier: [{ system: MRN, value: 'T1' }] }), id: 'types-1' } as Resource);
      const quantity = new KnexSearchIndex().indexRows({
        resourceType: 'Observation', id: 'types-2', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, subject: { reference: 'Patient/types-1' },
        valueQuantity: { value: 1, unit: 'g/L' }, effectiveDateTime: '2026-11-28',
      } as Resource);
      const tables = [...declared, ...quantity];
      expect(tables.every((t) => t.pgTypes?.length === t.columns.length)).toBe(true);
      for (const t of tables) {
        const actual = await fx.db('information_schema.columns').where({ table_name: t.table, table_schema: fx.db.raw('current_schema()') }).select('column_name', 'data_type');
        const typeOf = new Map(actual.map((c: { column_name: string; data_type: string }) => [c.column_name, c.data_type]));
        const expected = t.columns.map((c) => (typeOf.get(c) === 'double precision' ? 'float8' : 'text'));
        expect({ table: t.table, types: t.pgTypes }).toEqual({ table: t.table, types: expected });
      }
      expect(new Set(tables.map((t) => t.table))).toEqual(new Set(['fhir_idx_token', 'fhir_idx_string', 'fhir_idx_date', 'fhir_idx_reference', 'fhir_idx_quantity', 'fhir_idx_combo']));
    });
  }

  it('writes one history row and one outbox row per version', async () => {
    const repo = fx.repository();
    const [history, outbox] = [await countRows(fx.db, 'fhir_history'), await countRows(fx.db, 'fhir_outbox')];
    const { resource } = await repo.create(patient('孙'));
    await repo.update({ ...resource, gender: 'female' } as Patient);
    await repo.delete('Patient', resource.id as string);
    expect(await countRows(fx.db, 'fhir_history')).toBe(history + 3);
    expect(await countRows(fx.db, 'fhir_outbox')).toBe(outbox + 3);
    const events = await fx.db('fhir_outbox').where({ resource_id: resource.id }).orderBy('seq').select('action', 'version_id');
    expect(events.map((e) => `${e.action} ${e.version_id}`)).toEqual(['create 1', 'update 2', 'delete 3']);
  });
});
