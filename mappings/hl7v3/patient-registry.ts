import type { Bundle, BundleEntry, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { InboundContext, OutboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { empiSystem, patientRegistrationEntry } from './patient-identity';
import { readPatient } from './patient-person';
import { writePatient } from './patient-person-write';
import { conditionalCreate, conditionalUpdate, entryFullUrl, identifierToken, transactionBundle } from './transaction-entries';
import { interactionMessage, type Transmission } from './transmission-wrapper';
import { idItems } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { el, serializeXml } from './xml-writer';

/**
 * 个人信息注册 (PRPA_IN201311UV02), 更新 (PRPA_IN201314UV02) and 合并 (PRPA_IN201304UV02) — both directions.
 * Registration and update map alike: an update for a patient Lingshu has never seen creates it, because the
 * platform's order of delivery is not guaranteed and dropping the data would lose it.
 */
export type RegistrationInteraction = 'PRPA_IN201311UV02' | 'PRPA_IN201314UV02';

export function registrationToBundle(root: V3Element, transmission: Transmission, ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const request = root.at('controlActProcess', 'subject', 'registrationRequest');
  const patientElement = request?.at('subject1', 'patient');
  if (!patientElement) {
    problems.add('required', 'the registered patient (controlActProcess/subject/registrationRequest/subject1/patient) is missing',
      request?.path ?? `${root.path}/controlActProcess/subject/registrationRequest`);
    return problems.outcome();
  }
  const patient = readPatient(patientElement, ctx, problems, { demographicsRequired: true });
  if (problems.any) return problems.outcome();
  return transactionBundle(transmission, [patientRegistrationEntry(patient, ctx.empiRoot)]);
}

/**
 * A merge: the surviving patient is created if Lingshu does not hold it yet (and otherwise left as it is — the merge
 * message carries only the identity part of the record); each replaced record keeps its old EMPI id, becomes
 * inactive and points at the survivor with a `replaced-by` link (the FHIR R4 way of recording a merge; the
 * versions before stay in its history). Keyed on the EMPI id alone: the records of a merge usually share the
 * 身份证 number, which is why they are merged.
 */
export function mergeToBundle(root: V3Element, transmission: Transmission, ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const event = root.at('controlActProcess', 'subject', 'registrationEvent');
  const patientElement = event?.at('subject1', 'patient');
  if (!event || !patientElement) {
    problems.add('required', 'the surviving patient (controlActProcess/subject/registrationEvent/subject1/patient) is missing',
      event?.path ?? `${root.path}/controlActProcess/subject/registrationEvent`);
    return problems.outcome();
  }
  const survivor = readPatient(patientElement, ctx, problems, { demographicsRequired: false });
  const priorId = event.at('replacementOf', 'priorRegistration', 'subject1', 'priorRegisteredRole', 'id');
  const replaced = idItems(priorId).filter((i) => i.attr('root') === ctx.empiRoot).map((i) => i.attr('extension')).filter((v): v is string => !!v);
  if (replaced.length === 0) {
    problems.add('required', `the merged-away patient id (priorRegisteredRole/id under root ${ctx.empiRoot}) is missing`,
      priorId?.path ?? `${event.path}/replacementOf/priorRegistration/subject1/priorRegisteredRole/id`);
  }
  if (problems.any) return problems.outcome();

  const system = empiSystem(ctx.empiRoot);
  const survivorId = survivor.identifier!.find((i) => i.system === system)!.value!;
  const survivorSearch = `identifier=${identifierToken(system, survivorId)}`;
  const entries: BundleEntry[] = [conditionalCreate(survivor, survivorSearch)];
  for (const old of replaced.filter((id) => id !== survivorId)) {
    const tombstone: Patient = {
      resourceType: 'Patient',
      identifier: [{ use: 'old', system, value: old }],
      active: false,
      link: [{ other: { reference: entryFullUrl(`Patient?${survivorSearch}`) }, type: 'replaced-by' }],
    };
    entries.push(conditionalUpdate(tombstone, `identifier=${identifierToken(system, old)}`));
  }
  return transactionBundle(transmission, entries);
}

/** The 个人信息注册 or 更新 message Lingshu sends for a patient (e.g. registered through the internet hospital). */
export function patientToRegistration(patient: Patient, interaction: RegistrationInteraction, ctx: OutboundContext): string {
  return serializeXml(interactionMessage(interaction, ctx,
    el('controlActProcess', { classCode: 'CACT', moodCode: 'EVN' },
      el('subject', { typeCode: 'SUBJ' },
        el('registrationRequest', { classCode: 'REG', moodCode: 'RQO' },
          el('statusCode', { code: 'active' }),
          el('subject1', { typeCode: 'SBJ' }, writePatient(patient, ctx.empiRoot)))))));
}

/** 个人信息合并: `replacedEmpiIds` are merged into `survivor`. */
export function patientMergeToV3(survivor: Patient, replacedEmpiIds: string[], ctx: OutboundContext): string {
  return serializeXml(interactionMessage('PRPA_IN201304UV02', ctx,
    el('controlActProcess', { classCode: 'CACT', moodCode: 'EVN' },
      el('subject', { typeCode: 'SUBJ' },
        el('registrationEvent', { classCode: 'REG', moodCode: 'EVN' },
          el('statusCode', { code: 'active' }),
          el('subject1', { typeCode: 'SBJ' }, writePatient(survivor, ctx.empiRoot)),
          el('replacementOf', { typeCode: 'RPLC' },
            el('priorRegistration', { classCode: 'REG', moodCode: 'EVN' },
              el('statusCode', { code: 'obsolete' }),
              el('subject1', { typeCode: 'SBJ' },
                el('priorRegisteredRole', { classCode: 'PAT' },
                  el('id', {}, replacedEmpiIds.map((id) => el('item', { root: ctx.empiRoot, extension: id }))))))))))));
}
