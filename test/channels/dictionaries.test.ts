import type { ActivityDefinition, Bundle, ChargeItemDefinition, Medication, MedicationKnowledge, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import { adapterRegistry } from '../../adapters/registry';
import { loadMark } from '../../adapters/database/poller-marks';
import { drugDatabase, hisChargeItems } from '../../channels/dictionaries';
import { hospitalChannels } from '../../channels/hospital-channels';
import { hospitalConfig, type HospitalConfig } from '../../channels/hospital-config';
import type { Bus } from '../../engine/bus/bus';
import { loadConfig } from '../../engine/config/config';
import { RunningServer, startServer } from '../../engine/server';
import { startSecurity } from '../../fhir-resources/auth/security-module';
import { CHARGE_CODE_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { fenOf } from '../../fhir-resources/billing/money';
import { FhirModule, startFhirModule } from '../../fhir-resources/fhir-module';
import { DRUG_DATABASE_CODE_SYSTEM } from '../../mappings/dictionary/dictionary-vocabulary';
import { drugDatabasePeer, DrugDatabasePeer } from '../../simulators/drug-database/drug-database-peer';
import { hisPeer, HisPeer } from '../../simulators/his/his-peer';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { createTestDatabase, TestDatabase } from '../support/databases';
import { eventually } from '../support/engine-server';

/**
 * The dictionary channels end to end: the HIS simulator's dictionary view and the drug database simulator over
 * HTTP, a real engine running his-charge-items and drug-database on their schedules, and the FHIR API.
 */
const API_KEY = 'dictionary-test-key';
const NEVER = '0 0 0 1 1 *';
const EVERY_SECOND = '* * * * * *';
const WAIT = 60_000;
const TYPES: ResourceType[] = ['ActivityDefinition', 'ChargeItemDefinition', 'Medication', 'MedicationKnowledge'];

for (const kind of ['sqlite', 'postgres', 'mysql'] as const) describe(`dictionary sync from the HIS and a drug database (${kind})`, () => {
  let database: TestDatabase;
  let running: RunningServer;
  let fhir: FhirModule | undefined;
  let simulators: SimulatorHost;
  let his: HisPeer;
  let drugs: DrugDatabasePeer;
  let hospital: HospitalConfig;
  let engineDb: Knex;
  let engineBus: Bus;
  let base: string;
  let sim: string;
  let doctor: string;

  const withCrons = (incrementalCron: string, fullCron: string): HospitalConfig => ({
    ...hospital,
    channels: {
      ...hospital.channels,
      hisChargeItems: { ...hospital.channels.hisChargeItems, incrementalCron, fullCron },
      drugDatabase: { ...hospital.channels.drugDatabase, incrementalCron, fullCron },
    },
  });

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    his = hisPeer({ port: 0 });
    drugs = drugDatabasePeer({ port: 0, apiKeys: [API_KEY] });
    simulators = await startSimulatorHost([his, drugs], { port: 0 });
    sim = `http://127.0.0.1:${simulators.port}/_sim`;
    const config = loadConfig({ LINGSHU_PORT: '0', LINGSHU_DB: database.url, LINGSHU_BUS: '', LINGSHU_CHANNELS_DIR: '/nonexistent', LINGSHU_PROFILE: 'demo' });
    const defaults = hospitalConfig(config);
    const off = Object.fromEntries(Object.entries(defaults.channels).map(([k, v]) => [k, { ...v, enabled: false }])) as HospitalConfig['channels'];
    hospital = {
      ...defaults,
      channels: {
        ...off,
        hisChargeItems: { ...defaults.channels.hisChargeItems, enabled: true, url: `${new URL(his.url).origin}/api/dictionary`, pageSize: 5 },
        drugDatabase: { ...defaults.channels.drugDatabase, enabled: true, url: drugs.url, apiKey: API_KEY, pageSize: 7 },
      },
    };
    // Increments only at first: a feed without a mark is read in full by its first run, and later runs read changes.
    const firstPhase = withCrons(EVERY_SECOND, NEVER);
    const repository = () => fhir!.repository;
    running = await startServer({
      config,
      registry: adapterRegistry({ fhir: repository }),
      channels: (db, bus) => {
        engineDb = db;
        engineBus = bus;
        return hospitalChannels({ hospital: firstPhase, db, bus, fhir: repository });
      },
      mount: async (app, { db, bus }) => {
        const security = await startSecurity(config, db);
        app.use('/auth', security.authRoutes);
        fhir = await startFhirModule({ db, bus, security });
        app.use('/fhir', fhir.router);
        return { stop: async () => { security.stop(); await fhir!.stop(); } };
      },
    });
    base = `http://127.0.0.1:${running.port}`;
    const res = await fetch(`${base}/auth/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'doctor', subject: 'Practitioner/dict-doctor' }) });
    doctor = ((await res.json()) as { access_token: string }).access_token;
  });

  afterAll(async () => {
    await simulators?.stop();
    await running?.stop();
    await database?.drop();
  });

  async function search<T extends Resource>(query: string): Promise<T[]> {
    const res = await fetch(`${base}/fhir/${query}`, { headers: { authorization: `Bearer ${doctor}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as Bundle).entry?.map((e) => e.resource as T) ?? [];
  }

  const byCode = <T extends Resource>(type: ResourceType, system: string, code: string, param = 'identifier') =>
    eventually(async () => (await fhir!.repository.search({ resourceType: type, filters: [{ code: param, operator: 'eq' as never, value: `${system}|${code}` }] })).resources[0] as T | undefined, WAIT);
  const stored = async (type: ResourceType) => (await fhir!.repository.search({ resourceType: type, count: 1000 })).resources;
  const versionsOf = async (type: ResourceType) => (await fhir!.repository.history(type, undefined, { count: 1000 })).entries.length;
  const DICTIONARY_CHANNELS = ['his-charge-items', 'drug-database'];
  const settled = async () => (await running.store.counts()).filter((c) => DICTIONARY_CHANNELS.includes(c.channelId)).every((c) => c.queued === 0 && c.sent + c.error + c.filtered === c.received);
  const sentOf = async (channel: string) => (await running.store.counts()).find((c) => c.channelId === channel)?.sent ?? 0;
  const change = (path: string, body: object) => fetch(`${sim}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('puts the whole catalogue and both drug dictionaries into the store on the first run', async () => {
    const total = his.dictionary.chargeItems.size;
    // HIS drugs are priced 收费项目 too.
    await eventually(async () => (await stored('ChargeItemDefinition')).length === total + his.dictionary.drugs.size, WAIT);
    await eventually(async () => (await stored('MedicationKnowledge')).length === his.dictionary.drugs.size + drugs.drugs.size, WAIT);
    expect(await stored('ActivityDefinition')).toHaveLength(total);
    expect(await stored('Medication')).toHaveLength(his.dictionary.drugs.size + drugs.drugs.size);
  });

  it('finds 血常规 by pinyin initials, by the HIS 拼音码 and by title, with its price in 分 beside it', async () => {
    const [byInitials] = await search<ActivityDefinition>('ActivityDefinition?title=xcg');
    expect(byInitials).toMatchObject({ title: '血常规', status: 'active', kind: 'ServiceRequest', usage: expect.stringContaining('空腹') });
    expect((await search<ActivityDefinition>('ActivityDefinition?name=xcg')).map((a) => a.title)).toEqual(['血常规']);
    const [price] = await search<ChargeItemDefinition>(`ChargeItemDefinition?identifier=${encodeURIComponent(`${CHARGE_CODE_SYSTEM}|250101001`)}`);
    expect(fenOf(price.propertyGroup![0].priceComponent![0].amount)).toBe(2000);
    expect(price.derivedFromUri).toEqual([byInitials.url]);
  });

  it('finds 阿莫西林 by pinyin initials in both drug dictionaries, and its package insert', async () => {
    const found = await search<Medication>('Medication?name=amxl');
    expect(found.map((m) => m.code?.coding?.[0].system).sort()).toEqual([CHARGE_CODE_SYSTEM, DRUG_DATABASE_CODE_SYSTEM].sort());
    expect(found.every((m) => m.code?.text === '阿莫西林胶囊')).toBe(true);
    const [knowledge] = await search<MedicationKnowledge>(`MedicationKnowledge?name=blf&code=${encodeURIComponent(`${DRUG_DATABASE_CODE_SYSTEM}|DB0000208`)}`);
    expect(knowledge).toMatchObject({ code: { text: '布洛芬缓释胶囊' }, synonym: ['布洛芬', '芬必得'], manufacturer: { display: '中美天津史克制药有限公司' } });
    expect(knowledge.contained?.find((r) => r.resourceType === 'DocumentReference')).toBeDefined();
  });

  it('keeps each source\'s high-water mark in Lingshu\'s database', async () => {
    const mark = await eventually(() => loadMark(engineDb, 'drug-database:drug-database'), WAIT);
    expect(mark).toEqual({ value: new Date('2026-11-01T02:00:00+08:00'), key: 'DB0001108' });
  });

  it('updates only the ChargeItemDefinition whose price changed, on the next increment', async () => {
    const before = Object.fromEntries(await Promise.all(TYPES.map(async (t) => [t, await versionsOf(t)] as const)));
    expect((await change('his/dictionary/charge-items/250101001', { price: '25.00' })).status).toBe(200);
    const cid = await eventually(async () => {
      const c = await byCode<ChargeItemDefinition>('ChargeItemDefinition', CHARGE_CODE_SYSTEM, '250101001');
      return fenOf(c.propertyGroup![0].priceComponent![0].amount) === 2500 && c;
    }, WAIT);
    expect(cid.meta?.versionId).toBe('2');
    expect(his.dictionary.reads.some((r) => r.startsWith('/charge-items?') && r.includes('updatedSince='))).toBe(true);
    expect(await versionsOf('ChargeItemDefinition')).toBe(before.ChargeItemDefinition + 1);
    for (const type of ['ActivityDefinition', 'Medication', 'MedicationKnowledge'] as const) expect(await versionsOf(type)).toBe(before[type]);
  });

  it('retires a catalogue item the HIS stopped, and keeps it', async () => {
    expect((await change('his/dictionary/charge-items/250102001', { status: 'stopped' })).status).toBe(200);
    await eventually(async () => (await byCode<ChargeItemDefinition>('ChargeItemDefinition', CHARGE_CODE_SYSTEM, '250102001')).status === 'retired', WAIT);
    expect((await byCode<ActivityDefinition>('ActivityDefinition', CHARGE_CODE_SYSTEM, '250102001')).status).toBe('retired');
    expect((await search<ActivityDefinition>('ActivityDefinition?title=ncg&status=active'))).toEqual([]);
  });

  it('makes a drug the database deleted inactive, never deleted', async () => {
    expect((await fetch(`${sim}/drug-database/drugs/DB0000812`, { method: 'DELETE' })).status).toBe(200);
    await eventually(async () => (await byCode<Medication>('Medication', DRUG_DATABASE_CODE_SYSTEM, 'DB0000812')).status === 'inactive', WAIT);
    expect((await byCode<MedicationKnowledge>('MedicationKnowledge', DRUG_DATABASE_CODE_SYSTEM, 'DB0000812', 'code')).status).toBe('inactive');
  });

  it('adds no versions when full syncs run again over unchanged sources', async () => {
    const before = Object.fromEntries(await Promise.all(TYPES.map(async (t) => [t, await versionsOf(t)] as const)));
    const fullReads = () => drugs.received.filter((r) => r.path === '/api/v1/drugs' && r.status === 200).length;
    const hisFullReads = () => his.dictionary.reads.filter((r) => r.startsWith('/charge-items?') && !r.includes('updatedSince=') && !r.includes('cursor=')).length;
    // Both logs keep only their latest calls: emptied here, they hold just this phase's reads.
    drugs.received.length = 0;
    his.dictionary.reads.length = 0;
    const sentBefore = await sentOf('drug-database');
    const fullPhase = withCrons(NEVER, '*/2 * * * * *');
    const deps = { hospital: fullPhase, db: engineDb, bus: engineBus, fhir: () => fhir!.repository };
    await running.engine.deploy(hisChargeItems(deps));
    await running.engine.deploy(drugDatabase(deps));
    // Two whole runs of each: every page of the export read twice over.
    const pages = Math.ceil((drugs.drugs.size - 1) / 7);
    await eventually(() => fullReads() >= 2 * pages && hisFullReads() >= 2, WAIT);
    // Schedules off, destinations on: what the full runs handed in is written (or found unchanged) before counting.
    const quiet = { ...deps, hospital: withCrons(NEVER, NEVER) };
    await running.engine.deploy(hisChargeItems(quiet));
    await running.engine.deploy(drugDatabase(quiet));
    await eventually(settled, WAIT);
    expect(await sentOf('drug-database')).toBeGreaterThanOrEqual(sentBefore + 2 * (drugs.drugs.size - 1));
    for (const type of TYPES) expect(await versionsOf(type)).toBe(before[type]);
    expect((await running.store.counts()).filter((c) => DICTIONARY_CHANNELS.includes(c.channelId)).map((c) => c.error)).toEqual([0, 0]);
  }, 3 * WAIT);

  it('fails a row the mapping refuses alone, naming its field, and writes the rows beside it', async () => {
    const deps = { hospital: withCrons(EVERY_SECOND, NEVER), db: engineDb, bus: engineBus, fhir: () => fhir!.repository };
    await running.engine.deploy(hisChargeItems(deps));
    expect((await change('his/dictionary/charge-items/250301001', { price: '六十元' })).status).toBe(200);
    expect((await change('his/dictionary/charge-items/250302001', { price: '45.00' })).status).toBe(200);
    await eventually(async () => {
      const c = await byCode<ChargeItemDefinition>('ChargeItemDefinition', CHARGE_CODE_SYSTEM, '250302001');
      return fenOf(c.propertyGroup![0].priceComponent![0].amount) === 4500;
    }, WAIT);
    const [refused] = await eventually(async () => (await running.store.search({ channel: 'his-charge-items', correlationId: 'his-charge-items:250301001', status: 'error' })).messages, WAIT);
    expect(JSON.stringify(await running.store.get(refused.id))).toContain('row.price');
    const kept = await byCode<ChargeItemDefinition>('ChargeItemDefinition', CHARGE_CODE_SYSTEM, '250301001');
    expect([kept.meta?.versionId, fenOf(kept.propertyGroup![0].priceComponent![0].amount)]).toEqual(['1', 6000]);
  }, 3 * WAIT);
});
