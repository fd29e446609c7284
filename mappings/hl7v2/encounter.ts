import type { Encounter, EncounterParticipant, Identifier } from '@medplum/fhirtypes';
import { codingSystem, practitionerReference } from './hl7-datatypes';
import { fhirDateTime } from './hl7-datetime';
import { authoritySystem, cxIdentifier } from './hl7-identifiers';
import type { Hl7Segment } from './hl7-message';
import type { ResolvedContext } from './mapping-context';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const PARTICIPATION_TYPE = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';

/** Table 0004 patient class (and the spellings domestic HIS systems use) → Encounter.class in v3 ActCode. */
const PATIENT_CLASS: Readonly<Record<string, { code: string; display: string }>> = {
  I: { code: 'IMP', display: 'inpatient encounter' },
  IP: { code: 'IMP', display: 'inpatient encounter' },
  B: { code: 'IMP', display: 'inpatient encounter' },
  O: { code: 'AMB', display: 'ambulatory' },
  OP: { code: 'AMB', display: 'ambulatory' },
  R: { code: 'AMB', display: 'ambulatory' },
  E: { code: 'EMER', display: 'emergency' },
  ER: { code: 'EMER', display: 'emergency' },
  P: { code: 'PRENC', display: 'pre-admission' },
};

export interface MappedEncounter {
  encounter: Encounter;
  key: Identifier;
}

/**
 * PV1 → Encounter. The visit number (PV1-19) is the key; a sender that leaves it empty gets one keyed on its message
 * control id, so a resent message still finds the Encounter it created (a later update cannot, and says so by
 * `use: temp`). Practitioners and the ward are references by identifier and name: the directory is another channel's.
 */
export function encounterFromPv1(pv1: Hl7Segment, status: Encounter['status'], patientUrl: string, controlId: string, ctx: ResolvedContext, sendingApplication: string): MappedEncounter {
  const visit = cxIdentifier(pv1.first(19), `${pv1.where(19)}[1]`, ctx) ?? { use: 'temp' as const, system: authoritySystem(`${ctx.defaultAuthority}-message`, '', '', ctx), value: controlId };
  const patientClass = pv1.get(2).toUpperCase();
  const known = PATIENT_CLASS[patientClass];
  const start = fhirDateTime(pv1.get(44), pv1.where(44), ctx.utcOffset);
  const end = fhirDateTime(pv1.get(45), pv1.where(45), ctx.utcOffset);
  const participant = participants(pv1, ctx);
  const ward = pv1.first(3);
  const wardName = [ward.get(9) || ward.get(1), ward.get(2), ward.get(3)].filter(Boolean).join(' ');
  const service = pv1.get(10);
  const encounter: Encounter = {
    resourceType: 'Encounter',
    identifier: [visit],
    status: end && status === 'in-progress' ? 'finished' : status,
    class: known ? { system: ACT_CODE, ...known } : { system: 'http://terminology.hl7.org/CodeSystem/v2-0004', code: patientClass || 'U' },
    ...(service ? { serviceType: { coding: [{ system: `${codingSystem('L', sendingApplication)}/hospital-service`, code: service }], ...(ward.get(9) ? { text: ward.get(9) } : {}) } } : {}),
    subject: { reference: patientUrl },
    ...(participant.length ? { participant } : {}),
    ...(start || end ? { period: { ...(start ? { start } : {}), ...(end ? { end } : {}) } } : {}),
    ...(wardName ? { location: [{ location: { display: wardName } }] } : {}),
  };
  return { encounter, key: visit };
}

function participants(pv1: Hl7Segment, ctx: ResolvedContext): EncounterParticipant[] {
  const roles: ReadonlyArray<[number, string, string]> = [
    [7, 'ATND', 'attender'],
    [8, 'REF', 'referrer'],
    [9, 'CON', 'consultant'],
    [17, 'ADM', 'admitter'],
  ];
  const out: EncounterParticipant[] = [];
  for (const [field, code, display] of roles) {
    for (const xcn of pv1.repetitions(field)) {
      const individual = practitionerReference(xcn, ctx);
      if (individual) out.push({ type: [{ coding: [{ system: PARTICIPATION_TYPE, code, display }] }], individual });
    }
  }
  return out;
}
