import {
  buildAcknowledgement, buildPatientQuery, buildPatientQueryResponse, patientMergeToV3, patientToRegistration, serviceRequestsToPoor,
} from '../../../mappings/hl7v3';
import { applicationRequests, fixture, outbound, registeredPatient } from './hl7v3-fixtures';

describe('HL7 v3 outbound golden messages', () => {
  it('writes a Patient as 个人信息注册 (PRPA_IN201311UV02)', () => {
    expect(patientToRegistration(registeredPatient(), 'PRPA_IN201311UV02', outbound)).toBe(fixture('out-prpa-in201311uv02-from-patient.xml'));
  });

  it('writes a merge of one EMPI id into a surviving Patient (PRPA_IN201304UV02)', () => {
    expect(patientMergeToV3(registeredPatient(), ['P000200533'], outbound)).toBe(fixture('out-prpa-in201304uv02-merge.xml'));
  });

  it('writes a 个人信息查询 by 身份证 number (PRPA_IN201305UV02)', () => {
    expect(buildPatientQuery({ system: 'urn:oid:2.16.156.10011.1.3', value: '450102197806150029' }, outbound))
      .toBe(fixture('out-prpa-in201305uv02-query-by-resident-id.xml'));
  });

  it('answers a 个人信息查询 with the patient found (PRPA_IN201306UV02), addressed to the asker', () => {
    const query = { interaction: 'PRPA_IN201305UV02', messageId: '9a0e8c51-2f4b-4d7e-8a13-5c6b7d8e9f01', senderDevice: 'HIS' };
    expect(buildPatientQueryResponse(query, [registeredPatient()], outbound)).toBe(fixture('out-prpa-in201306uv02-answer-found.xml'));
  });

  it('answers NF when no patient was found', () => {
    const xml = buildPatientQueryResponse({ interaction: 'PRPA_IN201305UV02', messageId: 'q-1' }, [], outbound);
    expect(xml).toContain('<queryResponseCode code="NF"/>');
    expect(xml).not.toContain('<registrationEvent');
  });

  it('writes the ServiceRequests of one 申请单 as POOR_IN200901UV for the HIS', () => {
    expect(serviceRequestsToPoor({ requests: applicationRequests(), patient: registeredPatient() }, 'POOR_IN200901UV', outbound))
      .toBe(fixture('out-poor-in200901uv-from-service-requests.xml'));
  });

  it('writes the same requests as an update (POOR_IN200902UV) with the revoked status as cancelled', () => {
    const requests = applicationRequests().map((r) => ({ ...r, status: 'revoked' as const }));
    const xml = serviceRequestsToPoor({ requests, patient: registeredPatient() }, 'POOR_IN200902UV', outbound) as string;
    expect(xml).toContain('<interactionId root="2.16.156.10011.2.5.1.2" extension="POOR_IN200902UV"/>');
    expect(xml.match(/<statusCode code="cancelled"\/>/g)).toHaveLength(3);
  });

  it('refuses to send a request without its 医嘱 ID, naming the field', () => {
    const [first] = applicationRequests();
    expect(serviceRequestsToPoor({ requests: [{ ...first, identifier: [] }], patient: registeredPatient() }, 'POOR_IN200901UV', outbound)).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'required', diagnostics: expect.stringContaining('医嘱 ID'), expression: ['ServiceRequest[0].identifier'] }],
    });
  });

  it('writes an AA acknowledgement (MCCI_IN000002UV01) for a received message', () => {
    expect(buildAcknowledgement({ typeCode: 'AA', text: '成功', targetMessageId: '7d1f3a52-6c0e-4b8e-9a41-2f5d7c9e0b13' }, outbound))
      .toBe(fixture('out-mcci-in000002uv01-aa.xml'));
  });
});
