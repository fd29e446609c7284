import type { Bundle, Patient } from '@medplum/fhirtypes';
import { parseSearchRequest } from '@medplum/core';
import type { Knex } from 'knex';
import { fhirTransaction } from '../../../adapters/fhir/fhir-transaction-destination';
import type { DestinationConnector } from '../../../engine/channel/channel';
import { InProcessBus } from '../../../engine/bus/in-process-bus';
import { FhirModule, startFhirModule } from '../../../fhir-resources/fhir-module';
import { ALL_DATABASES, createTestDatabase, TestDatabase } from '../../support/databases';

const MRN = 'urn:oid:2.16.156.10011.1.11';

/** A registration as the HL7 mappings write it: conditional on the hospital's patient number. */
function registration(mrn: string, extra: Bundle['entry'] = [], type: Bundle['type'] = 'transaction'): Bundle {
  return {
    resourceType: 'Bundle', type,
    entry: [
      {
        resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], name: [{ text: '测试' }], gender: 'female' },
        request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` },
      },
      ...extra,
    ],
  };
}

/** Valid JSON, but Patient.gender has a code outside its required binding: the store refuses it. */
const badEntry = (mrn: string): NonNullable<Bundle['entry']>[number] => ({
  resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: `${mrn}-b` }], gender: 'unknown-gender' as Patient['gender'] },
  request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}-b` },
});

const send = (dest: DestinationConnector, bundle: Bundle, i: number) =>
  dest.send({ messageId: `m${i}`, channelId: 'test', destination: 'fhir-store', correlationId: `c${i}`, content: JSON.stringify(bundle), attempt: 1 });

for (const kind of ALL_DATABASES) {
  describe(`fhir-transaction destination with group commit on ${kind}`, () => {
    let database: TestDatabase;
    let db: Knex;
    let bus: InProcessBus;
    let fhir: FhirModule;
    let transactions = 0;

    beforeAll(async () => {
      database = await createTestDatabase(kind);
      db = database.open();
      bus = new InProcessBus(db);
      await bus.start();
      fhir = await startFhirModule({ db, bus });
      db.on('query', (q: { sql: string }) => {
        if (/^(BEGIN|START TRANSACTION)/i.test(q.sql)) transactions++;
      });
    });

    afterAll(async () => {
      await fhir.stop();
      await bus.close();
      await db.destroy();
      await database.drop();
    });

    const patients = async (mrns: string[]) => {
      const found = await fhir.repository.search(parseSearchRequest(`Patient?_count=100&identifier=${mrns.map((m) => `${MRN}|${m}`).join(',')}`));
      return found.resources.map((r) => (r as Patient).identifier![0].value).sort();
    };

    it('writes concurrent messages in fewer transactions than messages, each message answered with its own result', async () => {
      const dest = fhirTransaction(() => fhir.repository);
      const mrns = Array.from({ length: 24 }, (_, i) => `${kind}-ok-${i}`);
      transactions = 0;
      const answers = await Promise.all(mrns.map((m, i) => send(dest, registration(m), i)));
      expect(answers.every((a) => /^201 /.test(a.response ?? ''))).toBe(true);
      expect(new Set(answers.map((a) => a.response)).size).toBe(24);
      expect(await patients(mrns)).toEqual([...mrns].sort());
      if (kind !== 'sqlite') expect(transactions).toBeLessThan(24);
    });

    it('reads a group\'s conditions ahead together; a message sees what an earlier one of its group wrote', async () => {
      const dest = fhirTransaction(() => fhir.repository);
      const mrns = Array.from({ length: 12 }, (_, i) => `${kind}-ahead-${i % 6}`);
      let lookups = 0;
      const seen = (q: { sql: string }) => { if (/^select/i.test(q.sql.trim()) && q.sql.includes('fhir_idx_token')) lookups++; };
      db.on('query', seen);
      try {
        // Each patient twice: the second message of a patient must update what the first created, not create another.
        const answers = await Promise.all(mrns.map((m, i) => send(dest, registration(m), i)));
        expect(answers.filter((a) => /^201 /.test(a.response ?? ''))).toHaveLength(6);
        expect(answers.filter((a) => /^200 /.test(a.response ?? ''))).toHaveLength(6);
      } finally {
        db.off('query', seen);
      }
      expect(await patients(mrns.slice(0, 6))).toEqual(mrns.slice(0, 6).sort());
      // Once per group, and again for each condition an earlier write in its group may have changed (the second
      // message of a patient); per message it would be twelve reads ahead and those six.
      if (kind !== 'sqlite') expect(lookups).toBeLessThan(12);
    });

    it('fails only the bad message of a group; its neighbours commit and nothing of it is written', async () => {
      const dest = fhirTransaction(() => fhir.repository);
      const mrns = Array.from({ length: 10 }, (_, i) => `${kind}-mix-${i}`);
      const results = await Promise.allSettled(mrns.map((m, i) => send(dest, registration(m, i === 4 ? [badEntry(m)] : []), i)));
      expect(results.map((r) => r.status)).toEqual(mrns.map((_, i) => (i === 4 ? 'rejected' : 'fulfilled')));
      expect(String((results[4] as PromiseRejectedResult).reason.message)).toMatch(/gender/);
      // The bad message's first entry (a valid Patient) was rolled back with it.
      expect(await patients([...mrns, `${mrns[4]}-b`])).toEqual(mrns.filter((_, i) => i !== 4).sort());
    });

    it('the same messages again change nothing (conditional writes inside a group)', async () => {
      const dest = fhirTransaction(() => fhir.repository);
      const mrns = Array.from({ length: 6 }, (_, i) => `${kind}-ok-${i}`);
      const answers = await Promise.all(mrns.map((m, i) => send(dest, registration(m), i)));
      expect(answers.every((a) => /^200 /.test(a.response ?? ''))).toBe(true);
      expect(await patients(mrns)).toEqual([...mrns].sort());
    });

    it('writes a batch Bundle alone: one bad entry does not stop the others', async () => {
      const dest = fhirTransaction(() => fhir.repository);
      const m = `${kind}-batch`;
      const answer = await send(dest, registration(m, [badEntry(m)], 'batch'), 1);
      expect(answer.response).toMatch(/^201 /m);
      expect(answer.response).toMatch(/^4\d\d/m);
      expect(await patients([m, `${m}-b`])).toEqual([m]);
    });

    it('writes each message alone when group commit is off', async () => {
      const dest = fhirTransaction(() => fhir.repository, { groupCommit: false });
      const mrns = Array.from({ length: 4 }, (_, i) => `${kind}-alone-${i}`);
      transactions = 0;
      await Promise.all(mrns.map((m, i) => send(dest, registration(m), i)));
      expect(await patients(mrns)).toEqual([...mrns].sort());
      if (kind !== 'sqlite') expect(transactions).toBeGreaterThanOrEqual(4);
    });
  });
}

describe('BundleGroupCommit under load', () => {
  it('lets messages that arrive while a group is written wait for a whole group, instead of starting groups of one', async () => {
    const { BundleGroupCommit } = await import('../../../adapters/fhir/bundle-group-commit');
    const transactions: number[] = [];
    const repo = {
      transaction: async (fn: (r: unknown) => Promise<Bundle[]>) => {
        const result = await fn({ prepareConditions: async () => undefined });
        transactions.push(result.length);
        return result;
      },
    };
    const groups = new BundleGroupCommit(() => repo as never, { maxMessages: 4, parallel: 2 });
    const done: Bundle = { resourceType: 'Bundle', type: 'transaction-response' };
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [] };
    let release: (b: Bundle) => void = () => undefined;
    const first = groups.submit(bundle, () => new Promise<Bundle>((resolve) => { release = resolve; }));
    // Three arrive while the first is written: fewer than a group, so no second group starts until it is done.
    const next = [1, 2, 3].map(() => groups.submit(bundle, async () => done));
    await new Promise((r) => setImmediate(r));
    expect(transactions).toEqual([]);
    release(done);
    await Promise.all([first, ...next]);
    expect(transactions).toEqual([3]);
  });
});
