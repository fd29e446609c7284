import { OperationOutcomeError, operationOutcomeToString } from '@medplum/core';
import type { DestinationConnector, DestinationResponse, OutboundMessage } from '../../engine/channel/channel';
import type { Repository } from '../../fhir-resources/store/repository';

/**
 * Applies a message to Lingshu's FHIR store through a workflow function (a payment result, a refund result …) in one
 * store transaction, with the message's correlation id on the change events. The function must be idempotent: the
 * queue redelivers after a crash between commit and ack. What it returns is recorded as the destination's response.
 */
export function fhirWorkflow<T>(repository: () => Repository, apply: (repo: Repository, content: T) => Promise<string>): DestinationConnector {
  return {
    type: 'fhir-workflow',
    async send(message: OutboundMessage): Promise<DestinationResponse> {
      let content: T;
      try {
        content = JSON.parse(message.content) as T;
      } catch {
        throw new Error('the transformed message is not JSON');
      }
      const repo = repository().withContext({ correlationId: message.correlationId });
      try {
        return { response: await repo.transaction((trx) => apply(trx, content)) };
      } catch (err) {
        if (err instanceof OperationOutcomeError) throw new Error(operationOutcomeToString(err.outcome));
        throw err;
      }
    },
  };
}
