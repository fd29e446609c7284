import type { Appointment, AppointmentParticipant, Bundle, OperationOutcome, Practitioner } from '@medplum/fhirtypes';
import type { InboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { mentionedPatient } from './patient-identity';
import { readPatient } from './patient-person';
import { conditionalUpdate, identifierToken, transactionBundle } from './transaction-entries';
import type { Transmission } from './transmission-wrapper';
import { logicalReference, nameText, readDateTime, requiredId } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * 门诊预约状态 (PRPA_IN410001UV) → Appointment. The booked 号源 is `arrivedBy/transportationIntent`: its id (资源ID,
 * 2.16.156.10011.2.5.1.20) and period name the Slot the schedule mapping (schedule-slots.ts) wrote, so the Slot is
 * referred to by the same identifier, `<资源ID>-<period start as sent>`.
 */
const STATUS: Readonly<Record<string, Appointment['status']>> = {
  new: 'proposed', active: 'booked', completed: 'fulfilled', cancelled: 'cancelled', aborted: 'cancelled', nullified: 'entered-in-error',
};

export function appointmentToBundle(root: V3Element, transmission: Transmission, ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const booking = root.at('controlActProcess', 'subject', 'encounterAppointment');
  if (!booking) {
    problems.add('required', 'encounterAppointment (controlActProcess/subject/encounterAppointment) is missing', `${root.path}/controlActProcess/subject/encounterAppointment`);
    return problems.outcome();
  }
  const appointmentId = requiredId(booking.child('id'), V3_OID.appointmentId, 'the 预约 id', `${booking.path}/id`, problems);
  const statusCode = booking.child('statusCode');
  const status = STATUS[statusCode?.attr('code') ?? 'active'];
  if (!status) problems.add('code-invalid', `${statusCode!.attr('code')} is not an appointment status (new, active, completed, cancelled, aborted, nullified)`, statusCode!.attrPath('code'));
  const resource = booking.at('arrivedBy', 'transportationIntent');
  const period = resource?.child('effectiveTime') ?? booking.child('effectiveTime');
  const start = readDateTime(period?.child('low'), 'value', problems);
  const end = readDateTime(period?.child('high'), 'value', problems);
  // R4 invariant app-3: only a proposed or cancelled appointment may lack its start and end.
  if ((!start || !end) && status !== 'proposed' && status !== 'cancelled') {
    problems.add('required', 'a booked appointment needs the 号源 period (arrivedBy/transportationIntent/effectiveTime low and high)', period?.path ?? `${booking.path}/arrivedBy/transportationIntent/effectiveTime`);
  }
  const created = readDateTime(booking.at('reusableDevice', 'time', 'low'), 'value', problems);
  const patientElement = booking.at('subject', 'patient');
  if (!patientElement) problems.add('required', 'the patient (encounterAppointment/subject/patient) is missing', `${booking.path}/subject/patient`);
  const patient = patientElement ? readPatient(patientElement, ctx, problems, { demographicsRequired: false }) : undefined;
  if (problems.any || !appointmentId || !patient || !status) return problems.outcome();

  const subject = mentionedPatient(patient, ctx.empiRoot);
  const doctor = booking.at('performer', 'assignedPerson');
  const practitioner = logicalReference<Practitioner>(doctor?.at('id', 'item'), nameText(doctor?.at('assignedPerson', 'name')), 'Practitioner');
  const participant: AppointmentParticipant[] = [
    { actor: subject.reference, required: 'required', status: 'accepted' },
    ...(practitioner ? [{ actor: practitioner, required: 'required' as const, status: 'accepted' as const }] : []),
  ];
  const resourceId = resource?.at('id', 'item')?.attr('extension') ?? resource?.child('id')?.attr('extension');
  const slotStart = period?.child('low')?.attr('value');
  const appointment: Appointment = {
    resourceType: 'Appointment',
    identifier: [{ system: oidSystem(V3_OID.appointmentId), value: appointmentId }],
    status,
    ...(start && end ? { start, end } : {}),
    ...(resourceId && slotStart ? { slot: [{ type: 'Slot', identifier: { system: oidSystem(V3_OID.scheduleResource), value: `${resourceId}-${slotStart}` } }] } : {}),
    ...(created ? { created } : {}),
    participant,
  };
  return transactionBundle(transmission, [
    subject.entry,
    conditionalUpdate(appointment, `identifier=${identifierToken(oidSystem(V3_OID.appointmentId), appointmentId)}`),
  ]);
}
