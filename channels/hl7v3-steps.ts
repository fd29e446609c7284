import type { Transformer } from '../engine/channel/channel';
import { hl7v3ToBundle, type InboundContext } from '../mappings/hl7v3';
import { outcomeText } from './outcome-text';

/** The interaction into its FHIR transaction; one the mapping refuses throws with every problem and its XPath. */
export function hl7v3Mapping(context: InboundContext): Transformer {
  return (message) => {
    const result = hl7v3ToBundle(message.content, context);
    if (result.resourceType === 'OperationOutcome') throw new Error(outcomeText(result));
    return result;
  };
}
