import type { Bundle } from '@medplum/fhirtypes';
import request from 'supertest';
import { channel, DestinationConnector, OutboundMessage } from '../../../engine/channel/channel';
import { httpSource } from '../../../adapters/http/http-source';
import { bundlePatientKey } from '../../../adapters/fhir/fhir-transaction-destination';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';

const MRN = 'urn:oid:2.16.156.10011.1.12';

function resultBundle(mrn: string): Bundle {
  return {
    resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b', resource: { resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }] },
        request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } },
      { resource: { resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' } }, request: { method: 'POST', url: 'Observation' } },
    ],
  };
}

const message = (content: string, transformed?: unknown): OutboundMessage => ({
  messageId: 'm1', channelId: 'lis-results', destination: 'fhir-store', correlationId: 'c1', content, attempt: 1, transformed,
});

describe('bundlePatientKey', () => {
  it('keys a Bundle by its Patient entry\'s condition, from the transformer\'s object as from the stored content', () => {
    const bundle = resultBundle('M1');
    expect(bundlePatientKey(message(JSON.stringify(bundle), bundle))).toBe(`Patient?identifier=${MRN}|M1`);
    expect(bundlePatientKey(message(JSON.stringify(bundle)))).toBe(`Patient?identifier=${MRN}|M1`);
    // A transformer that returned text: the content is read.
    expect(bundlePatientKey(message(JSON.stringify(bundle), JSON.stringify(bundle)))).toBe(`Patient?identifier=${MRN}|M1`);
    expect(bundlePatientKey(message('not json'))).toBeUndefined();
  });
});

describe('orderBy at ingest', () => {
  let server: TestServer;
  const seen: unknown[] = [];
  const sink: DestinationConnector = { type: 'sink', send: async () => ({ response: 'ok' }) };

  beforeAll(async () => {
    server = await startTestServer(STACKS[0], () => [channel({
      id: 'keyed', source: httpSource(), transformer: (m) => JSON.parse(m.content) as object,
      destinations: [{ name: 'sink', connector: sink, orderBy: (m) => { seen.push(m.transformed); return 'k'; } }],
    })]);
  });
  afterAll(async () => server?.cleanup());

  it('sees the transformer\'s output as an object, not only its serialised content', async () => {
    await request(server.base).post('/channels/keyed').set('Content-Type', 'application/json').send({ resourceType: 'Bundle', type: 'batch' }).expect(202);
    await eventually(async () => seen.length > 0);
    expect(seen[0]).toEqual({ resourceType: 'Bundle', type: 'batch' });
  });
});
