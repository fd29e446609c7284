import { OperationOutcomeError } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { OperationRegistry } from '../operations/operation-registry';
import type { Repository } from '../store/repository';
import { executeFhirRequest } from './interaction-dispatch';

export interface BundleExecution {
  correlationId: string;
  /** Base for fullUrl and locations in the response; channels have no HTTP request to take it from. */
  baseUrl?: string;
}

const NO_CAPABILITY = () => {
  throw new Error('metadata is not available inside a channel Bundle');
};

/**
 * Runs a batch or transaction Bundle exactly as `POST /fhir` would, for channels that write mapped messages into the
 * store in-process (no HTTP hop): the same entry processing, urn:uuid resolution and all-or-nothing transaction.
 * Throws OperationOutcomeError when a transaction fails.
 */
export async function executeBundle(repository: Repository, bundle: Bundle, execution: BundleExecution): Promise<Bundle> {
  const repo = repository.withContext({ correlationId: execution.correlationId });
  const response = await executeFhirRequest(
    { repo, baseUrl: execution.baseUrl ?? 'urn:lingshu:fhir', operations: new OperationRegistry(), correlationId: execution.correlationId },
    { method: 'POST', path: '', rawQuery: '', query: {}, body: bundle, bodyKind: 'fhir-json', prefer: {} },
    NO_CAPABILITY,
  );
  if (response.status >= 400 || response.body?.resourceType !== 'Bundle') {
    throw new OperationOutcomeError(response.outcome ?? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: `Bundle failed with status ${response.status}` }] });
  }
  return response.body;
}
