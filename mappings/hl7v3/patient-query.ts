import type { Bundle, Identifier, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { InboundContext, OutboundContext } from './mapping-context';
import { MappingProblems } from './mapping-problems';
import { patientRegistrationEntry } from './patient-identity';
import { readPatient } from './patient-person';
import { writePatient } from './patient-person-write';
import { identifierToken, transactionBundle } from './transaction-entries';
import { interactionMessage, type Transmission } from './transmission-wrapper';
import type { V3Element } from './v3-document';
import { V3_OID, oidOf, oidSystem } from './v3-oids';
import { el, serializeXml } from './xml-writer';

/**
 * 个人信息查询 (PRPA_IN201305UV02) and its answer (PRPA_IN201306UV02). A query arriving becomes a FHIR batch with
 * one search, so a channel answers it the way it writes anything else; an answer arriving becomes the same
 * conditional updates as a registration (the peer's record is imported under the EMPI rule).
 */
export function patientQueryToBundle(root: V3Element, transmission: Transmission, _ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const parameters = root.at('controlActProcess', 'queryByParameter', 'parameterList');
  const value = parameters?.at('livingSubjectId', 'value');
  const system = value?.attr('root');
  const id = value?.attr('extension');
  if (!value || !system || !id) {
    problems.add('required', 'the query needs livingSubjectId/value with root and extension (a patient id or 身份证 number)',
      value?.path ?? parameters?.path ?? `${root.path}/controlActProcess/queryByParameter/parameterList`);
    return problems.outcome();
  }
  return transactionBundle(transmission, [
    { request: { method: 'GET', url: `Patient?identifier=${identifierToken(oidSystem(system), id)}` } },
  ], 'batch');
}

export function patientQueryResponseToBundle(root: V3Element, transmission: Transmission, ctx: InboundContext): Bundle | OperationOutcome {
  const problems = new MappingProblems();
  const ack = root.child('acknowledgement');
  if (ack && ack.attr('typeCode') !== 'AA') {
    problems.add('processing', `the peer answered ${ack.attr('typeCode')}: ${ack.at('acknowledgementDetail', 'text')?.attr('value') ?? '(no reason given)'}`, ack.attrPath('typeCode'));
    return problems.outcome();
  }
  const control = root.child('controlActProcess');
  const responseCode = control?.at('queryAck', 'queryResponseCode');
  const code = responseCode?.attr('code');
  if (!code) {
    problems.add('required', 'queryAck/queryResponseCode@code is missing', responseCode?.path ?? `${control?.path ?? root.path}/queryAck/queryResponseCode`);
    return problems.outcome();
  }
  // NF (nothing found) is a normal answer: there is nothing to write.
  if (code !== 'OK') return transactionBundle(transmission, []);
  const patients = (control?.all('subject') ?? [])
    .map((s) => s.at('registrationEvent', 'subject1', 'patient'))
    .filter((p): p is V3Element => p !== undefined)
    .map((p) => readPatient(p, ctx, problems, { demographicsRequired: true }));
  if (problems.any) return problems.outcome();
  return transactionBundle(transmission, patients.map((p) => patientRegistrationEntry(p, ctx.empiRoot)));
}

/** The query Lingshu sends for one patient id (EMPI id, HIS 病人ID or 身份证 number, by its urn:oid: system). */
export function buildPatientQuery(identifier: Identifier, ctx: OutboundContext): string {
  return serializeXml(interactionMessage('PRPA_IN201305UV02', ctx,
    el('controlActProcess', { classCode: 'CACT', moodCode: 'EVN' },
      el('code', { code: 'PRPA_TE201305UV02', codeSystem: '2.16.840.1.113883.1.6' }),
      el('queryByParameter', {},
        el('queryId', { root: V3_OID.messageId, extension: ctx.messageId }),
        el('statusCode', { code: 'new' }),
        el('initialQuantity', { value: '1' }),
        el('parameterList', {},
          el('livingSubjectId', {},
            el('value', { root: oidOf(identifier.system), extension: identifier.value }),
            el('semanticsText', {})))))));
}

/** The answer to a query Lingshu received: OK with the patients found, or NF. */
export function buildPatientQueryResponse(query: Transmission, patients: Patient[], ctx: OutboundContext): string {
  const found = patients.length > 0;
  return serializeXml(interactionMessage('PRPA_IN201306UV02', { ...ctx, receiverDevice: query.senderDevice ?? ctx.receiverDevice },
    el('acknowledgement', { typeCode: 'AA' },
      el('targetMessage', {}, el('id', { root: V3_OID.messageId, extension: query.messageId })),
      el('acknowledgementDetail', {}, el('text', { value: found ? '查询成功' : '未找到患者' }))),
    el('controlActProcess', { classCode: 'CACT', moodCode: 'EVN' },
      patients.map((p) => el('subject', { typeCode: 'SUBJ' },
        el('registrationEvent', { classCode: 'REG', moodCode: 'EVN' },
          el('statusCode', { code: 'active' }),
          el('subject1', { typeCode: 'SBJ' }, writePatient(p, ctx.empiRoot))))),
      el('queryAck', {},
        el('queryId', { root: V3_OID.messageId, extension: query.messageId }),
        el('queryResponseCode', { code: found ? 'OK' : 'NF' }),
        el('resultTotalQuantity', { value: String(patients.length) })))));
}
