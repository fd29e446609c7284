import { OperationOutcomeError, getStatus } from '@medplum/core';
import type { Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import type { DestinationConnector, DestinationResponse, OutboundMessage } from '../../engine/channel/channel';
import type { Repository } from '../../fhir-resources/store/repository';

/** What the channel's transformer hands a write-back destination: the peer's payload and the resource it is about. */
export interface WriteBackEnvelope {
  payload: string;
  /** `ServiceRequest/123`: the resource the peer's number is written onto. */
  about: string;
}

/** Writes by the write-back carry this correlation prefix, so the outbound channel can ignore the change it caused. */
const WRITE_BACK = 'write-back:';

export function isWriteBack(correlationId: string | undefined): boolean {
  return correlationId?.startsWith(WRITE_BACK) === true;
}

const LOST_RACES_TOLERATED = 5;

/**
 * A destination that sends the payload with `inner` and writes the identifier the peer answers with (the HIS 医嘱号
 * for an order Lingshu sent) onto the resource the message is about. Idempotent: an identifier already there is
 * left alone, so a redelivered message or a resend to the peer writes nothing new. The write is an update guarded
 * by the version just read (If-Match), so a doctor's concurrent edit is re-read, never overwritten.
 */
export function identifierWriteBack(inner: DestinationConnector, repository: () => Repository, readIdentifier: (answer: string) => Identifier | undefined): DestinationConnector {
  return {
    type: `${inner.type}+identifier-write-back`,
    start: inner.start?.bind(inner),
    stop: inner.stop?.bind(inner),
    async send(message: OutboundMessage): Promise<DestinationResponse> {
      const envelope = JSON.parse(message.content) as WriteBackEnvelope;
      if (typeof envelope?.payload !== 'string' || !/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(envelope.about ?? '')) {
        throw new Error('expected { payload, about: "Type/id" } from the transformer');
      }
      const sent = await inner.send({ ...message, content: envelope.payload });
      const identifier = readIdentifier(sent.response ?? '');
      // Thrown after the peer took the message: the retry resends it, which the peer must recognise (same number).
      if (!identifier?.value) throw new Error(`the answer names no identifier to write onto ${envelope.about}`);
      const [type, id] = envelope.about.split('/') as [ResourceType, string];
      const repo = repository().withContext({ correlationId: `${WRITE_BACK}${message.correlationId}` });
      for (let attempt = 1; ; attempt++) {
        const current = await repo.read<Resource & { identifier?: Identifier[] }>(type, id);
        if (current.identifier?.some((i) => i.system === identifier.system && i.value === identifier.value)) break;
        try {
          await repo.update({ ...current, identifier: [...(current.identifier ?? []), identifier] } as Resource, { ifMatch: current.meta?.versionId });
          break;
        } catch (err) {
          if (!(err instanceof OperationOutcomeError && getStatus(err.outcome) === 412) || attempt >= LOST_RACES_TOLERATED) throw err;
        }
      }
      return { response: `${sent.response ?? ''}\n${envelope.about} identifier ${identifier.system}|${identifier.value}` };
    },
  };
}
