import type { Bundle, ChargeItem } from '@medplum/fhirtypes';
import { fhirTransaction } from '../../../adapters/fhir/fhir-transaction-destination';
import { InProcessBus } from '../../../engine/bus/in-process-bus';
import { CHARGE_LOCK_EXTENSION, UNIT_PRICE_EXTENSION } from '../../../fhir-resources/billing/billing-vocabulary';
import { keepPaymentState } from '../../../fhir-resources/billing/charge-item-resend';
import { fenOf, money } from '../../../fhir-resources/billing/money';
import { KnexSearchIndex } from '../../../fhir-resources/search/search-index';
import { createFhirStore, type FhirStore } from '../../../fhir-resources/store/fhir-store';
import { createTestDatabase, type TestDatabase } from '../../support/databases';

/** A HIS resend of an order it still thinks unpaid must not undo what Lingshu knows of its payment. */
describe('a resent HIS charge line', () => {
  let database: TestDatabase;
  let store: FhirStore;
  let bus: InProcessBus;
  let db: ReturnType<TestDatabase['open']>;
  const identifier = { system: 'urn:oid:2.16.156.10011.2.5.1.97', value: 'CL-0001' };

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    db = database.open();
    bus = new InProcessBus(db, { pollMs: 10 });
    await bus.start();
    store = await createFhirStore({ db, bus, searchIndex: new KnexSearchIndex({}) });
  });
  afterAll(async () => {
    await store.relay.stop();
    await bus.close();
    await db.destroy();
    await database.drop();
  });

  const line = (status: ChargeItem['status'], fen: number): ChargeItem => ({
    resourceType: 'ChargeItem', identifier: [identifier], status, code: { text: '血常规' }, subject: { reference: 'Patient/p1' },
    extension: [{ url: UNIT_PRICE_EXTENSION, valueMoney: money(fen) }], priceOverride: money(fen),
  });
  const resend = (item: ChargeItem): Bundle => ({
    resourceType: 'Bundle', type: 'transaction',
    entry: [{ fullUrl: 'urn:uuid:7c8e3f4e-0000-4000-8000-000000000001', resource: item, request: { method: 'PUT', url: `ChargeItem?identifier=${identifier.system}|${identifier.value}` } }],
  });
  const send = (b: Bundle) => fhirTransaction(() => store.repository, { prepare: keepPaymentState }).send({ messageId: 'm', channelId: 'his-orders', destination: 'fhir-store', correlationId: 'c', content: JSON.stringify(b), attempt: 1 });
  const stored = async () => (await store.repository.search({ resourceType: 'ChargeItem', filters: [] })).resources[0] as ChargeItem;

  it('keeps a line paid in Lingshu billed, and takes the HIS price', async () => {
    await send(resend(line('billable', 2000)));
    await store.repository.update({ ...(await stored()), status: 'billed' });
    await send(resend(line('billable', 2100)));
    const now = await stored();
    expect(now.status).toBe('billed');
    expect(fenOf(now.priceOverride)).toBe(2100);
  });

  it('keeps the lock of a payment under way', async () => {
    const current = await stored();
    await store.repository.update({ ...current, status: 'billable', extension: [...(current.extension ?? []), { url: CHARGE_LOCK_EXTENSION, valueReference: { reference: 'Invoice/i1' } }] });
    await send(resend(line('billable', 2100)));
    expect((await stored()).extension?.some((e) => e.url === CHARGE_LOCK_EXTENSION)).toBe(true);
  });

  it('writes what the HIS says when it is a fact of its own (refunded at its window)', async () => {
    await send(resend(line('not-billable', 2100)));
    expect((await stored()).status).toBe('not-billable');
  });
});
