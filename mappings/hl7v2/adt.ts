import type { Bundle, Encounter, Identifier, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { encounterFromPv1 } from './encounter';
import { cxIdentifier } from './hl7-identifiers';
import type { Hl7Message, Hl7Segment } from './hl7-message';
import type { Hl7v2Context } from './mapping-context';
import { MappingProblem, outcomeOnProblem } from './mapping-problem';
import { openMessage, requiredSegment, type OpenedMessage } from './message-header';
import { patientFromPid } from './patient';

/** Visit events and the Encounter status they leave; A28/A31 (person information) carry no visit. */
const VISIT_STATUS: Readonly<Record<string, Encounter['status']>> = {
  A01: 'in-progress', // admit
  A04: 'arrived', // register an outpatient / 门诊挂号
  A08: 'in-progress', // update; a discharge date in PV1-45 makes it finished
  A11: 'cancelled', // cancel admit / visit
};

export const ADT_EVENTS = ['A01', 'A04', 'A08', 'A11', 'A28', 'A31', 'A40'] as const;

/**
 * ADT → a transaction that writes the Patient (the HIS is the source of truth for demographics: conditional update)
 * and, for visit events, the Encounter. A40 merges: see `merge`.
 */
export function adtToBundle(message: Hl7Message, context: Hl7v2Context = {}): Bundle | OperationOutcome {
  return outcomeOnProblem(() => {
    const opened = openMessage(message, context, { ADT: ADT_EVENTS });
    if (opened.event === 'A40') return merge(message, opened);
    const { patient, key } = patientFromPid(requiredSegment(message, 'PID', 'ADT events are about a patient'), opened.ctx);
    const patientUrl = opened.bundle.put(patient, key);
    const status = VISIT_STATUS[opened.event];
    const pv1 = message.segments.find((s) => s.name === 'PV1');
    if (status && pv1) {
      const { encounter, key: visit } = encounterFromPv1(pv1, status, patientUrl, opened.msh.get(10), opened.ctx, opened.sendingApplication);
      opened.bundle.put(encounter, visit);
    }
    return opened.bundle.build();
  });
}

/**
 * ADT^A40: each PID names the surviving patient, the MRG after it the record merged into it (MRG-1). As in FHIR's
 * patient merge, the survivor gets the merged record's identifiers (use `old`) and a `replaces` link; the merged
 * record is kept, inactive, with a `replaced-by` link, so references to it still lead to the survivor.
 */
function merge(message: Hl7Message, opened: OpenedMessage): Bundle {
  const pairs: Array<[Hl7Segment, Hl7Segment]> = [];
  let pid: Hl7Segment | undefined;
  for (const segment of message.segments) {
    if (segment.name === 'PID') pid = segment;
    if (segment.name === 'MRG' && pid) pairs.push([pid, segment]);
  }
  if (pairs.length === 0) throw new MappingProblem('required', 'MRG', 'ADT^A40 needs a PID followed by an MRG naming the record to merge');
  for (const [pidSegment, mrg] of pairs) {
    const survivor = patientFromPid(pidSegment, opened.ctx);
    const mergedIds = mrg
      .repetitions(1)
      .map((cx, i) => cxIdentifier(cx, `${mrg.where(1)}[${i + 1}]`, opened.ctx))
      .filter((id): id is Identifier => id !== undefined);
    const mergedKey = mergedIds[0];
    if (!mergedKey) throw new MappingProblem('required', mrg.where(1), `${mrg.where(1)} (prior patient identifier list) is empty: nothing to merge`);
    if (mergedIds.some((id) => id.system === survivor.key.system && id.value === survivor.key.value)) {
      throw new MappingProblem('business-rule', mrg.where(1), `${mrg.where(1)} names the surviving patient itself (${survivor.key.value})`);
    }
    const survivorUrl = opened.bundle.fullUrlOf('Patient', survivor.key) ?? placeholderUrl(opened, survivor.key);
    const merged: Patient = {
      resourceType: 'Patient',
      identifier: mergedIds.map((id) => ({ ...id, use: 'old' as const })),
      active: false,
      link: [{ other: { reference: survivorUrl }, type: 'replaced-by' }],
    };
    const mergedUrl = opened.bundle.put(merged, mergedKey);
    const known = survivor.patient.identifier ?? [];
    const carried = mergedIds.filter((id) => !known.some((k) => k.system === id.system && k.value === id.value)).map((id) => ({ ...id, use: 'old' as const }));
    const patient: Patient = { ...survivor.patient, identifier: [...known, ...carried], link: [{ other: { reference: mergedUrl }, type: 'replaces' }] };
    opened.bundle.put(patient, survivor.key);
  }
  return opened.bundle.build();
}

/** Reserves the survivor's fullUrl before its entry is written, so the two records can point at each other. */
function placeholderUrl(opened: OpenedMessage, key: Identifier): string {
  return opened.bundle.put({ resourceType: 'Patient', identifier: [key] }, key);
}
