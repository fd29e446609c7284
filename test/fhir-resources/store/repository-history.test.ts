import type { Basic, Device, Observation, Patient } from '@medplum/fhirtypes';
import type { HistoryEntry } from '../../../fhir-resources/store/repository';
import { ALL_DATABASES } from '../../support/databases';
import { openStore, patient, statusOf, StoreFixture } from './store-fixture';

const observation = (code: string): Observation => ({ resourceType: 'Observation', status: 'final', code: { text: code } });

describe.each(ALL_DATABASES)('KnexRepository history on %s', (kind) => {
  let fx: StoreFixture;
  // One database for the file: tests that read type history each write a resource type no other test writes.
  beforeAll(async () => { fx = await openStore(kind); });
  afterAll(async () => { await fx.cleanup(); });

  it('instance history lists every version newest first with the interaction that wrote it', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('张'));
    await repo.update({ ...resource, active: true });
    await repo.patch('Patient', resource.id as string, [{ op: 'add', path: '/gender', value: 'male' }]);
    await repo.delete('Patient', resource.id as string);
    const { entries, next } = await repo.history('Patient', resource.id);
    expect(entries.map((e) => [e.versionId, e.method, e.resource?.meta?.versionId])).toEqual([
      ['4', 'DELETE', undefined], ['3', 'PATCH', '3'], ['2', 'PUT', '2'], ['1', 'POST', '1'],
    ]);
    expect(next).toBeUndefined();
  });

  it('type history pages with a cursor through every version once, newest first', async () => {
    const repo = fx.repository();
    for (let i = 0; i < 4; i++) {
      const { resource } = await repo.create<Basic>({ resourceType: 'Basic', code: { text: `b${i}` } });
      await repo.update({ ...resource, subject: { display: 'x' } });
    }
    await repo.create(observation('not a Basic'));
    const seen: HistoryEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await repo.history('Basic', undefined, { count: 3, cursor });
      expect(page.entries.length).toBeLessThanOrEqual(3);
      seen.push(...page.entries);
      cursor = page.next;
    } while (cursor);
    expect(seen).toHaveLength(8);
    expect(new Set(seen.map((e) => `${e.id}/${e.versionId}`)).size).toBe(8);
    expect(seen.every((e) => e.resourceType === 'Basic')).toBe(true);
    const instants = seen.map((e) => e.lastUpdated);
    expect([...instants].sort().reverse()).toEqual(instants);
  });

  it('a page cursor stays correct when new versions are written between pages', async () => {
    const repo = fx.repository();
    for (let i = 0; i < 4; i++) await repo.create<Device>({ resourceType: 'Device', serialNumber: `d${i}` });
    const first = await repo.history('Device', undefined, { count: 2 });
    // Versions are ordered by their instant (ms), then type and id: a version written in the very millisecond of the
    // cursor's row can sort behind it. A newcomer a moment later, as between a client's page requests, cannot.
    const newest = Math.max(...first.entries.map((e) => Date.parse(e.lastUpdated)));
    while (Date.now() <= newest) await new Promise((r) => setTimeout(r, 1));
    await repo.create<Device>({ resourceType: 'Device', serialNumber: 'newcomer' });
    const second = await repo.history('Device', undefined, { count: 2, cursor: first.next });
    const ids = [...first.entries, ...second.entries].map((e) => e.id);
    expect(new Set(ids).size).toBe(4);
    expect(second.next).toBeUndefined();
  });

  it('system history includes every resource type', async () => {
    const repo = fx.repository();
    const { resource: p } = await repo.create(patient('王'));
    const { resource: o } = await repo.create(observation('血红蛋白'));
    const { entries } = await repo.history(undefined, undefined, { count: 2 });
    // Two writes in one millisecond share an instant, so their order is not asserted.
    expect(entries.map((e) => `${e.resourceType}/${e.id}`).sort()).toEqual([`Observation/${o.id}`, `Patient/${p.id}`]);
  });

  it('history since an instant leaves out older versions', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create(patient('李'));
    // Writes within one millisecond share an instant; wait until the clock has moved on.
    const created = resource.meta?.lastUpdated as string;
    while (new Date().toISOString() <= created) await new Promise((r) => setTimeout(r, 1));
    const { resource: v2 } = await repo.update({ ...resource, active: true });
    const { entries } = await repo.history('Patient', resource.id, { since: v2.meta?.lastUpdated });
    expect(entries.map((e) => e.versionId)).toEqual(['2']);
  });

  it('history of a resource that never existed answers 404', async () => {
    expect(await statusOf(fx.repository().history('Patient', 'nobody'))).toBe(404);
  });

  it('a cursor the server did not issue answers 400', async () => {
    expect(await statusOf(fx.repository().history('Patient', undefined, { cursor: 'garbage' }))).toBe(400);
  });

  it('a version read back from history equals what the write returned', async () => {
    const repo = fx.repository();
    const { resource } = await repo.create<Patient>(patient('周', { birthDate: '1990-01-02' }));
    const { entries } = await repo.history('Patient', resource.id);
    expect(entries[0].resource).toEqual(resource);
  });
});
