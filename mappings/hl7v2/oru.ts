import type { Attachment, Bundle, CodeableConcept, DiagnosticReport, Encounter, Identifier, Observation, OperationOutcome, Practitioner, Reference } from '@medplum/fhirtypes';
import { codeableConcept, practitionerReference } from './hl7-datatypes';
import { fhirDateTime, fhirInstant } from './hl7-datetime';
import { authoritySystem, cxIdentifier, eiIdentifier } from './hl7-identifiers';
import type { Hl7Message, Hl7Segment } from './hl7-message';
import type { Hl7v2Context } from './mapping-context';
import { MappingProblem, outcomeOnProblem } from './mapping-problem';
import { openMessage, type OpenedMessage } from './message-header';
import { interpretation, observationValue, referenceRange } from './observation-value';
import { patientFromPid } from './patient';

/** Table 0123 result status (OBR-25) → DiagnosticReport.status. */
const REPORT_STATUS: Readonly<Record<string, DiagnosticReport['status']>> = {
  O: 'registered', I: 'registered', S: 'registered', P: 'preliminary', R: 'preliminary', A: 'partial', F: 'final', C: 'corrected', X: 'cancelled',
};
/** Table 0085 observation result status (OBX-11) → Observation.status. */
const OBSERVATION_STATUS: Readonly<Record<string, Observation['status']>> = {
  F: 'final', C: 'corrected', P: 'preliminary', R: 'preliminary', S: 'preliminary', I: 'registered', X: 'cancelled', N: 'cancelled', D: 'entered-in-error', W: 'entered-in-error', U: 'final',
};
/** OBR-24 sections (table 0074) whose results are images and their readings rather than laboratory values. */
const IMAGING_SECTIONS = new Set(['CT', 'MR', 'NMR', 'NMS', 'RAD', 'RUS', 'CUS', 'OUS', 'VUS', 'XRC', 'RX', 'US', 'DX', 'MG', 'ES', 'CTH']);
const LAB_SECTIONS = new Set(['LAB', 'HM', 'CH', 'SR', 'MB', 'MCB', 'MYC', 'BLB', 'IMM', 'HEM', 'CP', 'SP', 'URN', 'VR', 'TX', 'BG', 'CG', 'GE', 'OSL']);
const V2_SECTION = 'http://terminology.hl7.org/CodeSystem/v2-0074';
const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const DATA_ABSENT = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/**
 * ORU^R01 (LIS 检验, PACS 检查, 生殖中心 LIS) → per OBR a DiagnosticReport, per OBX an Observation. Results are
 * corrected by resending, so both are conditional updates on the report's filler number; the Patient is only
 * created when the HIS has not registered it yet (a LIS does not own demographics).
 */
export function oruToBundle(message: Hl7Message, context: Hl7v2Context = {}): Bundle | OperationOutcome {
  return outcomeOnProblem(() => {
    const opened = openMessage(message, context, { ORU: ['R01'] });
    let patientUrl: string | undefined;
    let encounter: Reference<Encounter> | undefined;
    let orc: Hl7Segment | undefined;
    let report: ReportUnderConstruction | undefined;
    let lastObservation: Observation | undefined;
    const finish = (): void => {
      if (report) writeReport(report, opened);
      report = undefined;
    };
    for (const segment of message.segments) {
      switch (segment.name) {
        case 'PID': {
          finish();
          const { patient, key } = patientFromPid(segment, opened.ctx);
          patientUrl = opened.bundle.createIfAbsent(patient, key);
          encounter = undefined;
          break;
        }
        case 'PV1': {
          const visit = cxIdentifier(segment.first(19), `${segment.where(19)}[1]`, opened.ctx);
          encounter = visit ? { type: 'Encounter', identifier: visit } : undefined;
          break;
        }
        case 'ORC': finish(); orc = segment; break;
        case 'OBR': {
          finish();
          if (!patientUrl) throw new MappingProblem('required', 'PID', `${segment.where()} comes before any PID: a result needs its patient`);
          report = startReport(segment, orc, patientUrl, encounter, opened);
          orc = undefined;
          lastObservation = undefined;
          break;
        }
        case 'OBX': {
          if (!report) throw new MappingProblem('structure', segment.where(), `${segment.where()} comes before any OBR`);
          lastObservation = addObservation(segment, report, opened);
          break;
        }
        case 'NTE': {
          const text = segment.repetitions(3).map((r) => r.text()).join('\n');
          if (!text || !report) break;
          if (lastObservation) lastObservation.note = [...(lastObservation.note ?? []), { text }];
          else report.conclusion.push(text);
          break;
        }
      }
    }
    finish();
    if (!opened.bundle.build().entry?.some((e) => e.resource?.resourceType === 'DiagnosticReport')) {
      throw new MappingProblem('required', 'OBR', 'The ORU^R01 has no OBR: there is no report to write');
    }
    return opened.bundle.build();
  });
}

interface ReportUnderConstruction {
  obr: Hl7Segment;
  report: DiagnosticReport;
  key: Identifier;
  section: string;
  observations: Array<{ observation: Observation; key: Identifier }>;
  presentedForm: Attachment[];
  conclusion: string[];
}

function startReport(obr: Hl7Segment, orc: Hl7Segment | undefined, patientUrl: string, encounter: Reference<Encounter> | undefined, opened: OpenedMessage): ReportUnderConstruction {
  const { ctx, sendingApplication } = opened;
  const filler = eiIdentifier(obr.first(3), ctx, 'FILL') ?? (orc && eiIdentifier(orc.first(3), ctx, 'FILL'));
  const placer = eiIdentifier(obr.first(2), ctx, 'PLAC') ?? (orc && eiIdentifier(orc.first(2), ctx, 'PLAC'));
  // A report without order numbers is keyed on the message and its position, which is stable for a resend.
  const key = filler ?? placer ?? { use: 'temp' as const, system: authoritySystem(`${ctx.defaultAuthority}-message`, '', '', ctx), value: `${opened.msh.get(10)}-${obr.occurrence}` };
  const section = obr.get(24).trim().toUpperCase();
  const effective = fhirDateTime(obr.get(7), obr.where(7), ctx.utcOffset);
  const issued = fhirInstant(obr.get(22), obr.where(22), ctx.utcOffset);
  const interpreter = principalInterpreter(obr, opened);
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    identifier: [filler, placer].filter((i): i is Identifier => i !== undefined),
    ...(placer ? { basedOn: [{ type: 'ServiceRequest', identifier: placer }] } : {}),
    status: REPORT_STATUS[obr.get(25)] ?? 'unknown',
    ...(section || ctx.reportCategories.length
      ? { category: [...(section ? [{ coding: [{ system: V2_SECTION, code: section }] }] : []), ...ctx.reportCategories.map((c) => ({ coding: [c] }))] }
      : {}),
    code: codeableConcept(obr.first(4), sendingApplication) ?? absentConcept(),
    subject: { reference: patientUrl },
    ...(encounter ? { encounter } : {}),
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(issued ? { issued } : {}),
    ...(interpreter ? { resultsInterpreter: [interpreter] } : {}),
  };
  if (report.identifier?.length === 0) report.identifier = [key];
  return { obr, report, key, section, observations: [], presentedForm: [], conclusion: [] };
}

/** OBR-32 is NDL, whose first component holds id & name as subcomponents; some senders write an XCN there instead. */
function principalInterpreter(obr: Hl7Segment, opened: OpenedMessage): Reference<Practitioner> | undefined {
  const ndl = obr.first(32);
  if (ndl.get(1, 2)) {
    const id = ndl.get(1, 1);
    return { ...(id ? { identifier: { system: authoritySystem(ndl.get(1, 9), '', '', opened.ctx), value: id } } : {}), display: ndl.get(1, 2) };
  }
  return practitionerReference(ndl, opened.ctx);
}

function absentConcept(): CodeableConcept {
  return { extension: [{ url: DATA_ABSENT, valueCode: 'unknown' }] };
}

function addObservation(obx: Hl7Segment, r: ReportUnderConstruction, opened: OpenedMessage): Observation | undefined {
  const { ctx, sendingApplication } = opened;
  const type = obx.get(2).toUpperCase();
  // RP (a link to the images) and ED (an embedded document) are the report's presented forms, not values: R4
  // Observation has no Attachment value.
  if (type === 'RP' || type === 'ED') {
    const form = attachment(obx, type, ctx.maxObservationValueLength);
    if (form) r.presentedForm.push(form);
    return undefined;
  }
  const code = codeableConcept(obx.first(3), sendingApplication);
  const codeText = obx.get(3, 1) || obx.get(3, 4) || obx.get(1) || String(obx.occurrence);
  const subId = obx.get(4);
  let value = `${r.key.value}-${codeText}${subId ? `-${subId}` : ''}`;
  // Codes repeat within a report (one per specimen, per antibiotic…): the set id keeps them apart.
  if (r.observations.some((o) => o.key.value === value)) value += `#${obx.get(1) || obx.occurrence}`;
  const key: Identifier = { system: r.key.system, value };
  const unit = obx.get(6, 1) || obx.get(6, 2);
  const effective = fhirDateTime(obx.get(14), obx.where(14), ctx.utcOffset) ?? r.report.effectiveDateTime;
  const performer = obx.repetitions(16).map((xcn) => practitionerReference(xcn, ctx)).filter((p): p is Reference<Practitioner> => p !== undefined);
  const category = IMAGING_SECTIONS.has(r.section) ? 'imaging' : LAB_SECTIONS.has(r.section) ? 'laboratory' : undefined;
  const observation: Observation = {
    resourceType: 'Observation',
    identifier: [key],
    ...(r.report.basedOn ? { basedOn: r.report.basedOn } : {}),
    status: OBSERVATION_STATUS[obx.get(11)] ?? statusFromReport(r.report.status),
    ...(category ? { category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: category, display: category === 'imaging' ? 'Imaging' : 'Laboratory' }] }] } : {}),
    code: code ?? absentConcept(),
    subject: r.report.subject,
    ...(r.report.encounter ? { encounter: r.report.encounter } : {}),
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(performer.length ? { performer } : {}),
    ...observationValue(obx, ctx, sendingApplication),
  };
  const flags = interpretation(obx);
  if (flags) observation.interpretation = flags;
  const range = referenceRange(obx, unit);
  if (range) observation.referenceRange = range;
  r.observations.push({ observation, key });
  return observation;
}

/** OBX-11 left empty: the result has the report's status, in the Observation's narrower value set. */
function statusFromReport(status: DiagnosticReport['status']): Observation['status'] {
  if (status === 'partial') return 'preliminary';
  if (status === 'appended') return 'amended';
  return status as Observation['status'];
}

function attachment(obx: Hl7Segment, type: 'RP' | 'ED', maxLength: number): Attachment | undefined {
  if (obx.raw(5).length > maxLength) {
    throw new MappingProblem('too-long', obx.where(5), `${obx.where(5)} (observation value) has ${obx.raw(5).length} characters; the limit is ${maxLength}`);
  }
  const title = obx.get(3, 2) || obx.get(3, 1);
  if (type === 'RP') {
    const url = obx.get(5, 1);
    return url ? { url, ...(title ? { title } : {}) } : undefined;
  }
  // ED: source ^ type of data ^ subtype ^ encoding ^ data; only Base64 data can be carried as Attachment.data.
  const data = obx.get(5, 5);
  if (!data || obx.get(5, 4).toUpperCase() !== 'BASE64') return undefined;
  const subtype = obx.get(5, 3).toLowerCase();
  return { contentType: subtype === 'pdf' ? 'application/pdf' : `${(obx.get(5, 2) || 'application').toLowerCase()}/${subtype || 'octet-stream'}`, data, ...(title ? { title } : {}) };
}

function writeReport(r: ReportUnderConstruction, opened: OpenedMessage): void {
  const result = r.observations.map(({ observation, key }) => ({ reference: opened.bundle.put(observation, key) }));
  const report: DiagnosticReport = {
    ...r.report,
    ...(result.length ? { result } : {}),
    ...(r.conclusion.length ? { conclusion: r.conclusion.join('\n') } : {}),
    ...(r.presentedForm.length ? { presentedForm: r.presentedForm } : {}),
  };
  opened.bundle.put(report, r.key);
}
