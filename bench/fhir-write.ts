/**
 * The FHIR store's write path on its own (issues 3 and 5): the channels' HL7 v2 → transaction Bundles through
 * executeBundle, and the FHIR CRUD mix's create / read / update / delete straight on the repository, in this process
 * on a fresh database, with field encryption on as in production. Reports engine CPU per resource written (from
 * process.cpuUsage) and SQL statements per interaction (knex `query` events, BEGIN/COMMIT included; statements the
 * store runs as prepared statements outside knex are not counted), the two figures the write path's cost is made
 * of; wall-clock rates are printed but are noise on a shared 2-core machine.
 *
 *   npm run build && node dist/bench/fhir-write.js
 *   BENCH_DBS=postgres,sqlite,mysql  BENCH_MESSAGES=2000  BENCH_ITERATIONS=300  BENCH_CONCURRENCY=8
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof-write dist/bench/fhir-write.js     profiles both phases
 */
import { randomBytes } from 'node:crypto';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { hl7v2ToBundle, parseHl7 } from '../mappings/hl7v2';
import { FieldCipher } from '../fhir-resources/privacy/field-cipher';
import { ProtectedFields } from '../fhir-resources/privacy/protected-fields';
import { executeBundle } from '../fhir-resources/rest/bundle-executor';
import { KnexSearchIndex } from '../fhir-resources/search/search-index';
import { KnexRepository } from '../fhir-resources/store/knex-repository';
import { migrateFhirStore } from '../fhir-resources/store/store-migrations';
import { loadR4Definitions } from '../fhir-resources/definitions';
import { createTestDatabase, TestDatabase } from '../test/support/databases';
import { mixMessage, type MixKind } from './clinical-mix';

const DBS = (process.env.BENCH_DBS ?? 'postgres').split(',') as TestDatabase['name'][];
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CONTEXT = { authoritySystems: { HIS: 'urn:oid:2.16.156.10011.2.5.1.4' } };

/** The clinical bench's mix: 60% ORU with 5 OBX, 30% ADT, 10% ORM over a pool of 500 patients. */
function bundles(): Bundle[] {
  const run = randomBytes(3).toString('hex');
  return Array.from({ length: MESSAGES }, (_, i) => {
    const kind: MixKind = i % 10 < 6 ? 'ORU' : i % 10 < 9 ? 'ADT' : 'ORM';
    const result = hl7v2ToBundle(parseHl7(mixMessage(kind, i, run, 500).text), CONTEXT);
    if (result.resourceType !== 'Bundle') throw new Error(`mapping refused message ${i}`);
    return result;
  });
}

async function inParallel<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

interface Cost { cpuMs: number; wallMs: number; statements: number }

async function measured(counter: { n: number }, work: () => Promise<unknown>): Promise<Cost> {
  const before = counter.n;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - started, statements: counter.n - before };
}

const observation = (patient: string, encounter: string, i: number): Resource => ({
  resourceType: 'Observation', status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '718-7' }], text: '血红蛋白' },
  subject: { reference: `Patient/${patient}` }, encounter: { reference: `Encounter/${encounter}` },
  effectiveDateTime: `2024-01-0${1 + (i % 9)}T08:00:00.000Z`,
  valueQuantity: { value: 100 + i, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
} as Resource);

/** bench/fhir-store.ts's CRUD iteration: 7 creates, 7 reads, 2 updates, 7 deletes. */
async function crudIteration(repo: KnexRepository): Promise<void> {
  const p = (await repo.create({ resourceType: 'Patient', name: [{ text: '压测患者' }], gender: 'female' } as Resource)).resource;
  const encounter = { resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' }, subject: { reference: `Patient/${p.id}` } } as const;
  const e = (await repo.create(encounter as Resource)).resource;
  const obs: Resource[] = [];
  for (let i = 0; i < 5; i++) obs.push((await repo.create(observation(p.id!, e.id!, i))).resource);
  for (const r of [p, e, ...obs]) await repo.read(r.resourceType, r.id!);
  await repo.update({ resourceType: 'Patient', id: p.id, name: [{ text: '压测患者' }], gender: 'female', birthDate: '1990-05-01' } as Resource);
  await repo.update({ ...encounter, id: e.id, status: 'finished' } as Resource);
  for (const r of [...obs, e, p]) await repo.delete(r.resourceType, r.id!);
}

async function statementsOf(counter: { n: number }, work: () => Promise<unknown>): Promise<number> {
  return (await measured(counter, work)).statements;
}

async function benchDatabase(kind: TestDatabase['name']): Promise<void> {
  const database = await createTestDatabase(kind);
  const db: Knex = database.open();
  try {
    await migrateFhirStore(db);
    const privacy = new ProtectedFields(new FieldCipher(randomBytes(32)));
    const index = new KnexSearchIndex({ codec: privacy, privacy });
    await index.migrate(db);
    const repo = new KnexRepository(db, index, { codec: privacy });
    const counter = { n: 0 };
    db.on('query', () => { counter.n++; });
    const input = bundles();
    await inParallel(input.slice(0, 50), (b) => executeBundle(repo, b, { correlationId: 'warm-up' }));
    const historyRows = async (): Promise<number> => Number((await db('fhir_history').count({ n: '*' }))[0].n);
    const rowsBefore = await historyRows();
    const channels = await measured(counter, () => inParallel(input.slice(50), (b) => executeBundle(repo, b, { correlationId: 'bench' })));
    const written = (await historyRows()) - rowsBefore;
    const messages = input.length - 50;
    console.log(`${kind} channels: ${messages} Bundles, ${written} resources written (${(written / messages).toFixed(2)}/message)`
      + ` | CPU ${(channels.cpuMs / written).toFixed(3)} ms/resource, ${(channels.cpuMs / messages).toFixed(2)} ms/message`
      + ` | ${(channels.statements / messages).toFixed(1)} statements/message | ${Math.round(messages / (channels.wallMs / 1000))} msg/s wall`);

    const p = (await repo.create({ resourceType: 'Patient', name: [{ text: '计数' }] } as Resource)).resource;
    const perOp = {
      create: await statementsOf(counter, () => repo.create(observation(p.id!, 'x', 1))),
      update: await statementsOf(counter, () => repo.update({ ...p, gender: 'male' } as Resource)),
      delete: await statementsOf(counter, () => repo.delete('Patient', p.id!)),
    };
    await inParallel(Array.from({ length: 20 }, (_, i) => i), () => crudIteration(repo));
    const crud = await measured(counter, () => inParallel(Array.from({ length: ITERATIONS }, (_, i) => i), () => crudIteration(repo)));
    const requests = ITERATIONS * 23;
    console.log(`${kind} CRUD: ${ITERATIONS} iterations | CPU ${(crud.cpuMs / requests).toFixed(3)} ms/request`
      + ` | statements: create ${perOp.create}, update ${perOp.update}, delete ${perOp.delete}`
      + ` | ${Math.round(requests / (crud.wallMs / 1000))} req/s wall`);
  } finally {
    await db.destroy();
    await database.drop();
  }
}

async function main(): Promise<void> {
  loadR4Definitions();
  for (const kind of DBS) await benchDatabase(kind);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
