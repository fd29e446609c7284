import { OperationOutcomeError, operationOutcomeToString } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { DestinationConnector, DestinationResponse, OutboundMessage } from '../../engine/channel/channel';
import { executeBundle } from '../../fhir-resources/rest/bundle-executor';
import type { Repository } from '../../fhir-resources/store/repository';
import { BundleGroupCommit, type GroupCommitOptions } from './bundle-group-commit';

export const fhirTransactionSchema = z.object({}).strict();

/**
 * Writes the transformed message — a FHIR batch or transaction Bundle from a mapping — into Lingshu's own FHIR
 * store, in-process. Mappings make every entry conditional on business identifiers, so a redelivered message
 * (crash between commit and ack) changes nothing the second time. The message's correlation id travels into the
 * store's change events, so an event can be traced back to the HL7 message that caused it.
 */
export interface FhirTransactionOptions {
  /**
   * Adjusts the Bundle against the store inside the transaction that writes it, e.g. to keep state Lingshu owns
   * (fhir-resources/billing/charge-item-resend.ts).
   */
  prepare?: (repo: Repository, bundle: Bundle) => Promise<Bundle>;
  /** Concurrent messages written in shared transactions (bundle-group-commit.ts); `false` writes each alone. */
  groupCommit?: GroupCommitOptions | false;
}

// 32: on the clinical benchmark, groups of 32 cost PostgreSQL a tenth less per message than groups of 16 (its
// per-transaction work: BEGIN, locks, the conditions' read-ahead, planning, COMMIT and its WAL flush) and kept up with
// 500 messages/s where 16 did not; 64 gave no more.
const GROUP_COMMIT: GroupCommitOptions = { maxMessages: 32, parallel: 2 };

export function fhirTransaction(repository: () => Repository, options: FhirTransactionOptions = {}): DestinationConnector {
  const groups = options.groupCommit === false ? undefined : new BundleGroupCommit(repository, options.groupCommit ?? GROUP_COMMIT);
  return {
    type: 'fhir-transaction',
    async send(message: OutboundMessage): Promise<DestinationResponse> {
      let bundle: Bundle;
      try {
        bundle = JSON.parse(message.content) as Bundle;
      } catch {
        throw new Error('the transformed message is not JSON: expected a FHIR Bundle');
      }
      if (bundle?.resourceType !== 'Bundle') throw new Error(`expected a FHIR Bundle, got ${String((bundle as { resourceType?: unknown })?.resourceType ?? typeof bundle)}`);
      try {
        const prepare = options.prepare;
        const execution = { correlationId: message.correlationId };
        // Inside a group's transaction `repo.transaction` runs in that transaction; alone it opens one.
        const write = (repo: Repository) => (prepare
          ? repo.transaction(async (trx) => executeBundle(trx, await prepare(trx, bundle), execution))
          : executeBundle(repo, bundle, execution));
        const result = groups ? await groups.submit(bundle, write) : await write(repository());
        const written = (result.entry ?? []).map((e) => `${e.response?.status ?? ''} ${e.response?.location ?? ''}`.trim());
        return { response: written.join('\n') };
      } catch (err) {
        // The outcome names the entry and FHIRPath; the engine records it as this attempt's error.
        if (err instanceof OperationOutcomeError) throw new Error(operationOutcomeToString(err.outcome));
        throw err;
      }
    },
  };
}

/**
 * orderBy for a fhir-transaction destination: the conditional URL of the Bundle's Patient entry, so that two
 * messages about one patient (an A08 and a result, a registration and its merge) are written in arrival order
 * even across retries. Messages without a Patient entry are not ordered.
 */
export function bundlePatientKey(message: OutboundMessage): string | undefined {
  try {
    const given = message.transformed as Bundle | undefined;
    const bundle = given?.resourceType === 'Bundle' ? given : JSON.parse(message.content) as Bundle;
    const entry = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient');
    if (!entry?.request) return undefined;
    return entry.request.ifNoneExist ? `Patient?${entry.request.ifNoneExist}` : entry.request.url;
  } catch {
    return undefined;
  }
}
