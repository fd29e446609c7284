import { OperationOutcomeError, operationOutcomeToString } from '@medplum/core';
import type { DestinationConnector, DestinationResponse, OutboundMessage } from '../../engine/channel/channel';
import type { Repository } from '../../fhir-resources/store/repository';

/**
 * Hands the transformed message (JSON) to a workflow function over Lingshu's own FHIR store, for changes a
 * transaction Bundle cannot say — "cancel the Appointment of this booking unless it already is". The function must
 * be idempotent: a redelivered message runs it again. What it returns is recorded as the stage's response.
 */
export function fhirApply<T>(repository: () => Repository, apply: (repo: Repository, content: T) => Promise<string>): DestinationConnector {
  return {
    type: 'fhir-apply',
    async send(message: OutboundMessage): Promise<DestinationResponse> {
      let content: T;
      try {
        content = JSON.parse(message.content) as T;
      } catch {
        throw new Error('the transformed message is not JSON');
      }
      try {
        return { response: await apply(repository().withContext({ correlationId: message.correlationId }), content) };
      } catch (err) {
        if (err instanceof OperationOutcomeError) throw new Error(operationOutcomeToString(err.outcome));
        throw err;
      }
    },
  };
}
