import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Transformer } from '../engine/channel/channel';
import { outcomeText } from './outcome-text';

/** A mapping of a JSON message's text as the transformer; one the mapping refuses throws with every problem and its path. */
export function jsonMapping<T extends object>(mapping: (content: string) => T | OperationOutcome): Transformer {
  return (message) => {
    const result = mapping(message.content);
    if ((result as { resourceType?: string }).resourceType === 'OperationOutcome') throw new Error(outcomeText(result as OperationOutcome));
    return result;
  };
}
