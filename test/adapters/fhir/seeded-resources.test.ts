import { parseSearchRequest } from '@medplum/core';
import type { Organization } from '@medplum/fhirtypes';
import { withSeededResources } from '../../../adapters/fhir/seeded-resources';
import type { SourceConnector, SourceContext } from '../../../engine/channel/channel';
import { openStore, type StoreFixture } from '../../fhir-resources/store/store-fixture';

const SYSTEM = 'http://lingshu.health/sid/pharmacy-code';
const pharmacy = (code: string, name: string): Organization => ({ resourceType: 'Organization', identifier: [{ system: SYSTEM, value: code }], name, active: true });

describe('reference resources seeded before a channel starts', () => {
  let fx: StoreFixture;
  const started: string[] = [];
  const inner: SourceConnector = { type: 'test', start: async () => { started.push('source'); }, stop: async () => undefined };
  const ctx = { channelId: 'seeded-test' } as SourceContext;

  beforeAll(async () => { fx = await openStore('sqlite', 'real'); });
  afterAll(async () => fx?.cleanup());

  const stored = async (code: string) => (await fx.repository().search(parseSearchRequest('Organization', { identifier: `${SYSTEM}|${code}` }))).resources as Organization[];

  it('writes them before the source starts, and a restart adds no versions', async () => {
    let seen: Organization[] = [];
    const watching: SourceConnector = { ...inner, start: async () => { seen = await stored('TY'); started.push('source'); } };
    const source = withSeededResources(watching, () => fx.repository(), () => [pharmacy('TY', '桃源院区门诊药房')]);
    await source.start(ctx);
    await source.start(ctx);
    expect(seen.map((o) => o.name)).toEqual(['桃源院区门诊药房']);
    const [org] = await stored('TY');
    expect(org.meta?.versionId).toBe('1');
  });

  it('rewrites a resource whose configuration changed, under the same id', async () => {
    await withSeededResources(inner, () => fx.repository(), () => [pharmacy('BY', '北院药房')]).start(ctx);
    const [before] = await stored('BY');
    await withSeededResources(inner, () => fx.repository(), () => [pharmacy('BY', '北院院区门诊药房')]).start(ctx);
    const after = await stored('BY');
    expect(after.map((o) => [o.id, o.name, o.meta?.versionId])).toEqual([[before.id, '北院院区门诊药房', '2']]);
  });
});
