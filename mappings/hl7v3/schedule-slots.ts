import type { Bundle, BundleEntry, CodeableConcept, Location, OperationOutcome, Practitioner, Reference, Schedule, Slot } from '@medplum/fhirtypes';
import type { InboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { conditionalCreate, conditionalUpdate, entryFullUrl, identifierToken, transactionBundle } from './transaction-entries';
import type { Transmission } from './transmission-wrapper';
import { displayOf, logicalReference, nameText, readDateTime, requiredId } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * 号源排班新增 (PRSC_IN030101UV) → Schedule + Slot. One `resourceSlot` is one doctor's (or clinic's) session: it
 * becomes a Schedule keyed by its 资源ID; each `timeFrame` (a period with its 号源 count) becomes a Slot keyed
 * `<资源ID>-<period start as sent>`, free while numbers remain. FHIR Slot has no count, so the numbers are kept in
 * the Slot comment for people; the waitlist matcher reads `status`.
 */
const SLOT_SYSTEM = oidSystem(V3_OID.scheduleResource);

function coded(cd: V3Element | undefined, fallbackSystem: string): CodeableConcept | undefined {
  const code = cd?.attr('code');
  if (!code) return undefined;
  return { coding: [{ system: oidSystem(cd!.attr('codeSystem') ?? fallbackSystem), code, ...(displayOf(cd) ? { display: displayOf(cd) } : {}) }] };
}

function count(element: V3Element | undefined, what: string, problems: MappingProblems): number | undefined {
  const raw = element?.attr('value');
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) {
    problems.add('value', `${what} ${raw} is not a whole number`, element!.attrPath('value'));
    return undefined;
  }
  return Number(raw);
}

function sessionEntries(session: V3Element, problems: MappingProblems): BundleEntry[] {
  const resourceId = requiredId(session.child('id'), V3_OID.scheduleResource, 'the 排班资源 id', `${session.path}/id`, problems);
  const target = session.at('directTarget', 'identifiedEntity');
  const doctor = logicalReference<Practitioner>(target?.at('id', 'item'), nameText(target?.at('person', 'name')), 'Practitioner');
  const department = logicalReference<Location>(session.at('deptId', 'item'), displayOf(session.child('profession')), 'Location');
  const actor: Reference<Practitioner | Location>[] = [];
  if (doctor) actor.push(doctor);
  if (department) actor.push(department);
  if (actor.length === 0) problems.add('required', 'the session names neither a doctor (directTarget) nor a department (deptId)', session.path);
  const level = coded(session.child('code'), V3_OID.resourceLevel);
  const serviceType = coded(session.child('profession'), V3_OID.departmentClass);
  const total = count(session.child('totalNumber'), 'totalNumber', problems);

  const frames = session.all('timeFrame').map((frame) => {
    const low = frame.at('effectiveTime', 'low');
    const high = frame.at('effectiveTime', 'high');
    const start = readDateTime(low, 'value', problems);
    const end = readDateTime(high, 'value', problems);
    if (!low?.attr('value') || !high?.attr('value')) problems.add('required', 'a timeFrame needs effectiveTime low and high', `${frame.path}/effectiveTime`);
    const frameTotal = count(frame.child('totalFrameNumber'), 'totalFrameNumber', problems);
    const remain = count(frame.child('remainNumber'), 'remainNumber', problems);
    return { start, end, rawStart: low?.attr('value'), frameTotal, remain, channel: coded(frame.child('code'), V3_OID.frameType) };
  });
  if (frames.length === 0) problems.add('required', 'the session has no timeFrame (号源时段)', `${session.path}/timeFrame`);
  if (problems.any || !resourceId) return [];

  const starts = frames.map((f) => f.start!).sort();
  const ends = frames.map((f) => f.end!).sort();
  const schedule: Schedule = {
    resourceType: 'Schedule',
    identifier: [{ system: SLOT_SYSTEM, value: resourceId }],
    active: true,
    ...(level ? { serviceCategory: [level] } : {}),
    ...(serviceType ? { serviceType: [serviceType] } : {}),
    actor,
    planningHorizon: { start: starts[0], end: ends[ends.length - 1] },
    ...(total !== undefined ? { comment: `号源 ${total}` } : {}),
  };
  const scheduleSearch = `identifier=${identifierToken(SLOT_SYSTEM, resourceId)}`;
  const slots = frames.map((f) => {
    const slot: Slot = {
      resourceType: 'Slot',
      identifier: [{ system: SLOT_SYSTEM, value: `${resourceId}-${f.rawStart}` }],
      ...(serviceType ? { serviceType: [serviceType] } : {}),
      ...(f.channel ? { appointmentType: f.channel } : {}),
      schedule: { reference: entryFullUrl(`Schedule?${scheduleSearch}`) },
      // Without a remaining count the HIS released the period without limit information: bookable.
      status: f.remain === 0 ? 'busy' : 'free',
      start: f.start!,
      end: f.end!,
      ...(f.frameTotal !== undefined || f.remain !== undefined ? { comment: [f.frameTotal !== undefined && `号源 ${f.frameTotal}`, f.remain !== undefined && `剩余 ${f.remain}`].filter(Boolean).join('，') } : {}),
    };
    return conditionalUpdate(slot, `identifier=${identifierToken(SLOT_SYSTEM, `${resourceId}-${f.rawStart}`)}`);
  });
  return [conditionalCreate(schedule, scheduleSearch), ...slots];
}

export function scheduleToBundle(root: V3Element, transmission: Transmission, _ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const control = root.child('controlActProcess');
  const sessions = (control?.all('subject') ?? []).map((s) => s.at('schedule', 'resourceSlot')).filter((s): s is V3Element => s !== undefined);
  if (sessions.length === 0) {
    problems.add('required', 'no schedule (controlActProcess/subject/schedule/resourceSlot) in the message', control?.path ?? `${root.path}/controlActProcess`);
    return problems.outcome();
  }
  const entries = sessions.flatMap((s) => sessionEntries(s, problems));
  return problems.any ? problems.outcome() : transactionBundle(transmission, entries);
}
