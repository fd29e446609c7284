import { randomBytes } from 'node:crypto';
import type { SearchRequest } from '@medplum/core';
import type { Bundle, Encounter, Patient, Resource } from '@medplum/fhirtypes';
import { FieldCipher } from '../../../fhir-resources/privacy/field-cipher';
import { ProtectedFields } from '../../../fhir-resources/privacy/protected-fields';
import { executeBundle } from '../../../fhir-resources/rest/bundle-executor';
import { identifierCondition } from '../../../fhir-resources/search/identifier-lookup';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { parseFhirSearchUrl } from '../../../fhir-resources/search/search-request';
import * as currentRow from '../../../fhir-resources/store/current-row';
import { KnexRepository } from '../../../fhir-resources/store/knex-repository';
import { migrateFhirStore } from '../../../fhir-resources/store/store-migrations';
import { ALL_DATABASES, createTestDatabase, TestDatabase } from '../../support/databases';

const MRN = 'urn:oid:2.16.156.10011.1.12';
const VISIT = 'http://lingshu.health/hl7v2/authority/HIS';
const ID_CARD = 'urn:oid:2.16.156.10011.1.3';

/**
 * Conditions on identifiers are answered on PostgreSQL by one lookup for all of them (identifier-lookup.ts) instead
 * of one search each: the answers must be the search's, compared here with the same search kept off that path by a
 * sort on _id (which pages by id, as the lookup orders). On the other databases both are the ordinary search.
 */
describe.each(ALL_DATABASES)('identifier conditions on %s', (kind) => {
  let database: TestDatabase;
  let db: ReturnType<TestDatabase['open']>;
  let index: KnexSearchIndex;
  let repo: KnexRepository;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    db = database.open();
    await migrateFhirStore(db);
    const privacy = new ProtectedFields(new FieldCipher(randomBytes(32)));
    index = new KnexSearchIndex({ codec: privacy, privacy });
    await index.migrate(db);
    repo = new KnexRepository(db, index, { codec: privacy });
    const patient = (family: string, ids: Patient['identifier']): Patient => ({ resourceType: 'Patient', name: [{ family }], identifier: ids });
    await repo.create(patient('张', [{ system: MRN, value: 'M1' }, { system: ID_CARD, value: '11010519491231002X' }]));
    // Two patients with one MRN (a condition that matches several), one of them with the MRN twice.
    await repo.create(patient('王', [{ system: MRN, value: 'M2' }, { system: MRN, value: 'M2' }]));
    await repo.create(patient('王', [{ system: MRN, value: 'M2' }]));
    const gone = await repo.create(patient('李', [{ system: MRN, value: 'M3' }]));
    await repo.delete('Patient', gone.resource.id!);
    const visit: Encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, identifier: [{ system: VISIT, value: 'M1' }] };
    await repo.create(visit);
  });
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });

  const conditions = [
    'Patient?identifier=urn:oid:2.16.156.10011.1.12|M1',
    'Patient?identifier=urn:oid:2.16.156.10011.1.12|M2',
    'Patient?identifier=urn:oid:2.16.156.10011.1.12|M3',
    'Patient?identifier=urn:oid:2.16.156.10011.1.12|none',
    // A protected identifier: the index holds its keyed digest.
    'Patient?identifier=urn:oid:2.16.156.10011.1.3|11010519491231002X',
    // The same system and value on another type, and a condition asked twice.
    'Encounter?identifier=http://lingshu.health/hl7v2/authority/HIS|M1',
    'Encounter?identifier=http://lingshu.health/hl7v2/authority/HIS|M1',
    'Patient?identifier=http://lingshu.health/hl7v2/authority/HIS|M1',
  ];
  const request = (condition: string, count = 2): SearchRequest => ({ ...parseFhirSearchUrl(condition), count });
  const ids = (resources: Resource[]): string[] => resources.map((r) => `${r.resourceType}/${r.id}`);
  const reference = async (condition: string, count = 2): Promise<string[]> =>
    ids((await index.search(db, request(`${condition}&_sort=_id`, count))).resources);

  it('takes only single identifier equalities with a system, on PostgreSQL', () => {
    const eligible = (url: string) => identifierCondition(db, request(url), {}) !== undefined;
    expect(eligible(conditions[0])).toBe(kind === 'postgres');
    for (const other of ['Patient?identifier=|M1', 'Patient?identifier=M1', `Patient?identifier=${MRN}|`, `Patient?identifier=${MRN}|M1,${MRN}|M2`,
      `Patient?identifier=${MRN}|M1&gender=male`, `Patient?identifier:not=${MRN}|M1`, `Patient?identifier=${MRN}|M1&_sort=_id`]) {
      expect(eligible(other)).toBe(false);
    }
  });

  it('one search answers as the search does: several matches by id, deleted ones left out, digests matched', async () => {
    for (const condition of conditions) {
      const found = ids((await index.search(db, request(condition))).resources);
      expect(found).toEqual(await reference(condition));
    }
    expect((await index.search(db, request(conditions[1]))).resources).toHaveLength(2);
    expect((await index.search(db, request(conditions[4]))).resources).toHaveLength(1);
    expect((await index.search(db, request(conditions[1], 1))).next).toBeDefined();
  });

  it('many searches in a transaction answer each condition as its own search does', async () => {
    const expected = await Promise.all(conditions.map((c) => reference(c)));
    const results = await db.transaction((trx) => index.searchMany(trx, conditions.map((c) => request(c))));
    expect(results.map((r) => ids(r.resources))).toEqual(expected);
    const one = await db.transaction((trx) => index.searchMany(trx, conditions.map((c) => request(c, 1))));
    expect(one.map((r) => ids(r.resources))).toEqual(await Promise.all(conditions.map((c) => reference(c, 1))));
  });

  it('sees what its own transaction wrote', async () => {
    await db.transaction(async (trx) => {
      const tx = new KnexRepository(db, index, {}, trx);
      await tx.create({ resourceType: 'Patient', identifier: [{ system: MRN, value: 'M9' }] } as Patient);
      const [mine, other] = await index.searchMany(trx, [request(`Patient?identifier=${MRN}|M9`), request(conditions[0])]);
      expect(mine.resources).toHaveLength(1);
      expect(other.resources).toHaveLength(1);
      await trx.rollback();
    }).catch(() => undefined);
    expect((await index.search(db, request(`Patient?identifier=${MRN}|M9`))).resources).toHaveLength(0);
  });

  it('a transaction Bundle reads ahead its conditions on urn:oid identifiers, not those naming its own entries', async () => {
    const asked: string[][] = [];
    const spy = jest.spyOn(KnexRepository.prototype, 'prepareConditions').mockImplementation(async function (this: KnexRepository, c: string[]) {
      asked.push(c);
    });
    try {
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { fullUrl: 'urn:uuid:7d1c5a3e-0b1f-4c2a-9d3e-5f6a7b8c9d0e', resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: 'B1' }] },
            request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|B1` } },
          { resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, identifier: [{ system: VISIT, value: 'B1' }], subject: { reference: 'urn:uuid:7d1c5a3e-0b1f-4c2a-9d3e-5f6a7b8c9d0e' } },
            request: { method: 'PUT', url: `Encounter?identifier=${VISIT}|B1` } },
          { resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' } },
            request: { method: 'POST', url: 'Encounter', ifNoneExist: 'subject=urn:uuid:7d1c5a3e-0b1f-4c2a-9d3e-5f6a7b8c9d0e' } },
        ],
      };
      await executeBundle(repo, bundle, { correlationId: 'read-ahead' });
    } finally {
      spy.mockRestore();
    }
    expect(asked).toEqual([[`Patient?identifier=${MRN}|B1`, `Encounter?identifier=${VISIT}|B1`]]);
  });
  it('a transaction locks the matches it reads ahead, and a conditional update of one reads its row no more', async () => {
    const reads = jest.spyOn(currentRow, 'readCurrentRow');
    const [m1] = (await index.search(db, request(conditions[0]))).resources as Patient[];
    try {
      await db.transaction(async (trx) => {
        const tx = new KnexRepository(db, index, { codec: repo['codec'] }, trx);
        await tx.prepareConditions([conditions[0], conditions[5]]);
        if (kind === 'postgres') {
          // Another writer cannot take the row now.
          await expect(db.raw('SELECT id FROM fhir_resources WHERE resource_type = ? AND id = ? FOR UPDATE NOWAIT', ['Patient', m1.id!]))
            .rejects.toMatchObject({ code: '55P03' });
        }
        const written = await tx.conditionalUpdate({ ...m1, gender: 'female' }, `identifier=${MRN}|M1`);
        expect(written.resource.meta?.versionId).toBe(String(Number(m1.meta!.versionId) + 1));
        expect(reads).toHaveBeenCalledTimes(kind === 'postgres' ? 0 : 1);
        await trx.rollback();
      }).catch((err) => { if (err) throw err; });
    } finally {
      reads.mockRestore();
    }
    expect((await repo.read<Patient>('Patient', m1.id!)).gender).toBeUndefined();
  });
});
