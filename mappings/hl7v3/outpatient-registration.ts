import type { Bundle, Encounter, Identifier, Location, OperationOutcome, Organization, Practitioner } from '@medplum/fhirtypes';
import type { InboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { mentionedPatient } from './patient-identity';
import { readPatient } from './patient-person';
import { conditionalUpdate, identifierToken, transactionBundle } from './transaction-entries';
import type { Transmission } from './transmission-wrapper';
import { displayOf, idItems, identifierFrom, logicalReference, nameText, readDateTime, requiredId } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * 门诊挂号 (PRPA_IN400001UV, sample H0704Rt.xml) → Encounter. The 就诊流水号 (2.16.156.10011.2.5.1.9) is the visit's
 * key; 门诊号 and 就诊次数 are kept beside it. 挂号 means the patient is registered to be seen today, so the status
 * is `arrived` (R4: "the patient is present for the encounter, however is not currently meeting with a
 * practitioner").
 */
const ENCOUNTER_CLASS: Readonly<Record<string, { code: string; display: string }>> = {
  '1': { code: 'AMB', display: 'ambulatory' },
  '2': { code: 'EMER', display: 'emergency' },
  '3': { code: 'IMP', display: 'inpatient encounter' },
  '9': { code: 'AMB', display: 'ambulatory' },
};
const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

export function encounterRegistrationToBundle(root: V3Element, transmission: Transmission, ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const event = root.at('controlActProcess', 'subject', 'encounterEvent');
  if (!event) {
    problems.add('required', 'encounterEvent (controlActProcess/subject/encounterEvent) is missing', `${root.path}/controlActProcess/subject/encounterEvent`);
    return problems.outcome();
  }
  const serial = requiredId(event.child('id'), V3_OID.visitSerial, 'the 就诊流水号', `${event.path}/id`, problems);
  const typeCode = event.child('code');
  const type = typeCode?.attr('code');
  if (type && !ENCOUNTER_CLASS[type]) problems.add('code-invalid', `${type} is not a 患者类型代码 (1 门诊, 2 急诊, 3 住院, 9 其他)`, typeCode!.attrPath('code'));
  const start = readDateTime(event.at('effectiveTime', 'low'), 'value', problems);
  const patientElement = event.at('subject', 'patient');
  if (!patientElement) problems.add('required', 'the patient (encounterEvent/subject/patient) is missing', `${event.path}/subject/patient`);
  const patient = patientElement ? readPatient(patientElement, ctx, problems, { demographicsRequired: false }) : undefined;
  if (problems.any || !serial || !patient) return problems.outcome();

  const subject = mentionedPatient(patient, ctx.empiRoot);
  const identifier = idItems(event.child('id'))
    .map((i) => identifierFrom(i, i.attr('root') === V3_OID.visitSerial ? 'official' : 'secondary'))
    .filter((i): i is Identifier => i !== undefined);
  const admitter = event.at('admitter', 'assignedPerson');
  const practitioner = logicalReference<Practitioner>(admitter?.child('id')?.child('item'), nameText(admitter?.at('assignedPerson', 'name')), 'Practitioner');
  const place = event.at('location', 'serviceDeliveryLocation');
  const department = logicalReference<Location>(place?.at('location', 'id', 'item'), nameText(place?.at('location', 'name')), 'Location');
  const provider = logicalReference<Organization>(place?.at('serviceProviderOrganization', 'id', 'item'), nameText(place?.at('serviceProviderOrganization', 'name')), 'Organization');
  const reason = event.at('reasonCode', 'item', 'originalText')?.attr('value');
  const encounterClass = ENCOUNTER_CLASS[type ?? '1'];

  const encounter: Encounter = {
    resourceType: 'Encounter',
    identifier,
    status: 'arrived',
    class: { system: ACT_CODE_SYSTEM, code: encounterClass.code, display: encounterClass.display },
    ...(type ? { type: [{ coding: [{ system: oidSystem(V3_OID.encounterType), code: type, display: displayOf(typeCode) }] }] } : {}),
    subject: subject.reference,
    ...(practitioner ? { participant: [{ type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'ADM', display: 'admitter' }] }], individual: practitioner }] } : {}),
    ...(start ? { period: { start } } : {}),
    ...(reason ? { reasonCode: [{ text: reason }] } : {}),
    ...(department ? { location: [{ location: department }] } : {}),
    ...(provider ? { serviceProvider: provider } : {}),
  };
  return transactionBundle(transmission, [
    subject.entry,
    conditionalUpdate(encounter, `identifier=${identifierToken(oidSystem(V3_OID.visitSerial), serial)}`),
  ]);
}
