import { parseSearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import type { Repository } from '../../fhir-resources/store/repository';

type Identified = Resource & { identifier?: { system?: string; value?: string }[] };

const withoutMeta = (r: Resource): string => {
  const { meta: _m, id: _i, ...rest } = r;
  return JSON.stringify(rest);
};

/**
 * A channel's reference data, written into the store before its source starts: resources the configuration defines
 * (the pharmacies a prescription can go to) are matched by their first identifier, created when absent, rewritten
 * when the configuration changed them, and left alone otherwise so that restarts add no versions.
 */
export function withSeededResources(inner: SourceConnector, repository: () => Repository, resources: () => Identified[]): SourceConnector {
  return {
    type: inner.type,
    async start(ctx: SourceContext) {
      let written = 0;
      for (const resource of resources()) {
        const key = resource.identifier?.[0];
        if (!key?.system || !key.value) throw new Error(`a seeded ${resource.resourceType} needs an identifier to be found again`);
        const query = `identifier=${key.system}|${key.value}`;
        const found = await repository().search(parseSearchRequest(resource.resourceType, { identifier: `${key.system}|${key.value}`, _count: '2' }));
        const current = found.resources[0];
        if (found.resources.length === 1 && current && withoutMeta(current) === withoutMeta(resource)) continue;
        await repository().conditionalUpdate(resource, query);
        written++;
      }
      if (written) childLogger({ component: 'seeded-resources', channel: ctx.channelId }).info('reference resources written', { written });
      await inner.start(ctx);
    },
    stop: () => inner.stop(),
  };
}
