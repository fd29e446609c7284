import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { adtToBundle } from './adt';
import { firstSegment, type Hl7Message } from './hl7-message';
import type { Hl7v2Context } from './mapping-context';
import { problemOutcome } from './mapping-problem';
import { ordersToBundle } from './orders';
import { oruToBundle } from './oru';
import { siuToBundle } from './siu';

export { parseHl7, parseHl7Batch } from './parse-hl7';
export { Hl7Field, Hl7Segment, unescapeHl7, type Hl7Message, type Separators } from './hl7-message';
export type { Hl7v2Context, OrderCategory } from './mapping-context';
export { adtToBundle, oruToBundle, ordersToBundle, siuToBundle };
export { ORDER_CATEGORY_SYSTEM } from './orders';

const BY_MESSAGE_CODE: Readonly<Record<string, (m: Hl7Message, c: Hl7v2Context) => Bundle | OperationOutcome>> = {
  ADT: adtToBundle,
  ORU: oruToBundle,
  ORM: ordersToBundle,
  OML: ordersToBundle,
  OMG: ordersToBundle,
  SIU: siuToBundle,
};

/** Any supported HL7 v2 message → its FHIR transaction, chosen by MSH-9; what is not supported is an OperationOutcome. */
export function hl7v2ToBundle(message: Hl7Message, context: Hl7v2Context = {}): Bundle | OperationOutcome {
  const msh = firstSegment(message, 'MSH');
  const code = (msh?.get(9, 1) ?? '').split('_')[0];
  const mapping = BY_MESSAGE_CODE[code];
  if (mapping || message.problems.length > 0 || !msh) return (mapping ?? adtToBundle)(message, context);
  const where = msh.where(9);
  return problemOutcome([
    code
      ? { code: 'not-supported', expression: where, diagnostics: `${where} message type ${code} is not mapped (mapped: ${Object.keys(BY_MESSAGE_CODE).join(', ')})` }
      : { code: 'required', expression: where, diagnostics: `${where} (message type) is missing: the message cannot be routed to a mapping` },
  ]);
}
