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
