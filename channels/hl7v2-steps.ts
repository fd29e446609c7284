import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { AckError } from '../adapters/mllp/hl7-ack';
import type { ChannelMessage, Filter, Transformer } from '../engine/channel/channel';
import { hl7v2ToBundle, parseHl7, type Hl7v2Context } from '../mappings/hl7v2';
import { outcomeText } from './outcome-text';

/*
 * The steps every HL7 v2 channel is made of: a filter on MSH-9, the mapping as a transformer, and the reason for
 * the AE the listener answers when the mapping refuses a message. A refused message is stored with status error and
 * the outcome's words, and nothing reaches the FHIR store: the transformer throws before any destination runs.
 */

function isOutcome(result: Bundle | OperationOutcome): result is OperationOutcome {
  return result.resourceType === 'OperationOutcome';
}

function map(content: string, context: Hl7v2Context): Bundle | OperationOutcome {
  return hl7v2ToBundle(parseHl7(content), context);
}

/** The message into its FHIR transaction; a message the mapping refuses throws, with every problem and where it is. */
export function hl7v2Mapping(context: Hl7v2Context): Transformer {
  return (message: ChannelMessage) => {
    const result = map(message.content, context);
    if (isOutcome(result)) throw new Error(outcomeText(result));
    return result;
  };
}

/**
 * The segment and field of the first problem, for the ERR of the AE (`OBX[2].5` → OBX, field 5). The listener
 * asks only for messages the transformer refused, so mapping again gives the same outcome.
 */
export function hl7v2Reason(context: Hl7v2Context): (content: string) => AckError | undefined {
  return (content) => {
    const result = map(content, context);
    if (!isOutcome(result)) return undefined;
    const where = /^([A-Z][A-Z0-9]{2})(?:\[\d+\])?(?:\.(\d+))?/.exec(result.issue?.[0]?.expression?.[0] ?? '');
    const code = result.issue?.[0]?.code === 'required' ? '101' : result.issue?.[0]?.code === 'not-supported' ? '200' : '207';
    return { segment: where?.[1] ?? 'MSH', ...(where?.[2] ? { field: Number(where[2]) } : {}), code, text: outcomeText(result) };
  };
}

/**
 * Keeps the messages whose MSH-9 message code is one of `codes` (ORU, ADT …). A message without a readable MSH-9 is
 * kept, so that the mapping refuses it with the reason instead of the filter dropping it silently.
 */
export function messageCode(...codes: string[]): Filter {
  return {
    name: `message-code-${codes.join('-').toLowerCase()}`,
    accept(message) {
      const msh = /^\s*MSH(.)(.)/.exec(message.content);
      if (!msh) return true;
      const [field, component] = [msh[1], msh[2]];
      const code = (message.content.split(/\r\n|\r|\n/, 1)[0].split(field)[8] ?? '').split(component)[0];
      return code === '' || codes.includes(code);
    },
  };
}
