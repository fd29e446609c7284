import { deepClone, isNotFound, isGone, OperationOutcomeError } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { Bus } from '../engine/bus/bus';
import { childLogger } from '../engine/logger';
import type { Security } from './auth/security-module';
import { loadR4Definitions } from './definitions';
import { bindWechatOperation } from './operations/identity/bind-wechat';
import type { Operation } from './operations/operation';
import { standardOperations } from './operations/standard-operations';
import { chinaTerminologyResources } from './profiles';
import { fhirRouter, type FhirHttpHandler } from './rest/fhir-router';
import { KnexSearchIndex } from './search/search-index';
import { createFhirStore } from './store/fhir-store';
import type { Repository } from './store/repository';

export interface FhirModule {
  repository: Repository;
  /** Mounted at `/fhir` by the composition root (a plain node handler, which express can mount too). */
  router: FhirHttpHandler;
  stop(): Promise<void>;
}

export interface FhirModuleOptions {
  db: Knex;
  bus: Bus;
  /** Workflow operations added by later features; the standard ones (`$validate`) and `$bind-wechat` are always there. */
  operations?: Operation[];
  /** Authentication, access control, audit and field encryption; without it /fhir trusts every caller (tests only). */
  security?: Security;
}

const log = childLogger({ component: 'fhir' });

/** Store, search, outbox relay, terminology and REST, wired together for the composition root. */
export async function startFhirModule(options: FhirModuleOptions): Promise<FhirModule> {
  loadR4Definitions();
  const privacy = options.security?.privacy;
  const searchIndex = new KnexSearchIndex({ codec: privacy, privacy });
  const { repository, relay } = await createFhirStore({ db: options.db, bus: options.bus, searchIndex, codec: privacy });
  await loadTerminology(repository, chinaTerminologyResources());
  const router = fhirRouter({ repository, operations: [...standardOperations, bindWechatOperation, ...(options.operations ?? [])], security: options.security?.fhir });
  return { repository, router, stop: () => relay.stop() };
}

/**
 * The code systems ship with the code, so start-up makes the store match them: absent → written with their fixed
 * ids, changed by a new release → updated (a new version), unchanged → left alone so restarts add no versions.
 */
export async function loadTerminology(repository: Repository, resources: Resource[]): Promise<void> {
  let written = 0;
  for (const shipped of resources) {
    const current = await repository.read(shipped.resourceType, shipped.id!).catch((err: unknown) => {
      if (err instanceof OperationOutcomeError && (isNotFound(err.outcome) || isGone(err.outcome))) return undefined;
      throw err;
    });
    if (current && sameContent(current, shipped)) continue;
    await repository.update(deepClone(shipped));
    written++;
  }
  if (written > 0) log.info('terminology loaded', { written, total: resources.length });
}

function sameContent(stored: Resource, shipped: Resource): boolean {
  return JSON.stringify(withoutMeta(stored)) === JSON.stringify(withoutMeta(shipped));
}

function withoutMeta(r: Resource): Omit<Resource, 'meta'> {
  const { meta: _ignored, ...rest } = r;
  return rest;
}
