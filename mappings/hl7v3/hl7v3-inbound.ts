import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { appointmentToBundle } from './outpatient-appointment';
import { encounterRegistrationToBundle } from './outpatient-registration';
import type { InboundContext } from './mapping-context';
import { isOperationOutcome, singleProblem } from './mapping-problems';
import { ordersToBundle } from './order-inbound';
import { patientQueryResponseToBundle, patientQueryToBundle } from './patient-query';
import { mergeToBundle, registrationToBundle } from './patient-registry';
import { scheduleToBundle } from './schedule-slots';
import { readTransmissionOrOutcome, type Transmission } from './transmission-wrapper';
import { parseV3, type V3Element } from './v3-document';

type InboundMapping = (root: V3Element, transmission: Transmission, ctx: InboundContext) => Bundle | OperationOutcome;

/** The interactions Lingshu maps into FHIR, by root element (formats.md §3 lists the 互联互通 service ids). */
const INBOUND: Readonly<Record<string, InboundMapping>> = {
  PRPA_IN201311UV02: registrationToBundle,
  PRPA_IN201314UV02: registrationToBundle,
  PRPA_IN201304UV02: mergeToBundle,
  PRPA_IN201305UV02: patientQueryToBundle,
  PRPA_IN201306UV02: patientQueryResponseToBundle,
  PRPA_IN400001UV: encounterRegistrationToBundle,
  PRPA_IN410001UV: appointmentToBundle,
  POOR_IN200901UV: ordersToBundle,
  POOR_IN200902UV: ordersToBundle,
  PRSC_IN030101UV: scheduleToBundle,
};

export const INBOUND_INTERACTIONS: readonly string[] = Object.keys(INBOUND);

/**
 * An HL7 v3 message (XML text) into a FHIR transaction Bundle — a batch of searches for a query — or an
 * OperationOutcome naming every problem with its location in the message. Never throws: whatever the sender
 * sent, the channel gets something to store and to acknowledge with.
 */
export function hl7v3ToBundle(xml: string, ctx: InboundContext): Bundle | OperationOutcome {
  const doc = parseV3(xml);
  if (isOperationOutcome(doc)) return doc;
  const mapping = INBOUND[doc.root.name];
  if (!mapping) {
    return singleProblem('not-supported', `${doc.root.name} is not an interaction Lingshu maps (supported: ${INBOUND_INTERACTIONS.join(', ')})`, doc.root.path);
  }
  const transmission = readTransmissionOrOutcome(doc.root);
  if (isOperationOutcome(transmission)) return transmission;
  try {
    return mapping(doc.root, transmission, ctx);
  } catch (err) {
    // A defect in a mapping must still end as an AE the channel can store, not as an exception in the listener.
    return singleProblem('exception', `mapping ${doc.root.name} failed: ${(err as Error).message}`, doc.root.path);
  }
}
