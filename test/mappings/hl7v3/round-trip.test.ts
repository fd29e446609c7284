import type { Patient, ServiceRequest } from '@medplum/fhirtypes';
import {
  acknowledgementFor, buildAcknowledgement, buildPatientQueryResponse, hl7v3ToBundle, patientToRegistration, readAcknowledgement, serviceRequestsToPoor,
} from '../../../mappings/hl7v3';
import { applicationRequests, asBundle, inbound, outbound, registeredPatient } from './hl7v3-fixtures';

describe('HL7 v3 round trips', () => {
  it('reads back the Patient it wrote as 个人信息注册', () => {
    const xml = patientToRegistration(registeredPatient(), 'PRPA_IN201311UV02', outbound);
    expect(asBundle(hl7v3ToBundle(xml, inbound)).entry![0].resource).toEqual(registeredPatient());
  });

  it('reads back the Patient it wrote as 个人信息更新', () => {
    const xml = patientToRegistration(registeredPatient(), 'PRPA_IN201314UV02', outbound);
    expect(asBundle(hl7v3ToBundle(xml, inbound)).entry![0].resource).toEqual(registeredPatient());
  });

  it('reads back the Patient it wrote in a query answer', () => {
    const xml = buildPatientQueryResponse({ interaction: 'PRPA_IN201305UV02', messageId: 'q-1', senderDevice: 'HIS' }, [registeredPatient()], outbound);
    expect(asBundle(hl7v3ToBundle(xml, inbound)).entry![0].resource).toEqual(registeredPatient());
  });

  it('reads back the ServiceRequests it wrote as POOR_IN200901UV', () => {
    const requests = applicationRequests();
    const xml = serviceRequestsToPoor({ requests, patient: registeredPatient() }, 'POOR_IN200901UV', outbound) as string;
    const back = asBundle(hl7v3ToBundle(xml, inbound)).entry!.filter((e) => e.resource?.resourceType === 'ServiceRequest').map((e) => e.resource as ServiceRequest);
    expect(back).toEqual(requests);
    // The order message carries the whole patient, so the patient it mentions is the registered one.
    const mentioned = asBundle(hl7v3ToBundle(xml, inbound)).entry![0].resource as Patient;
    expect(mentioned.identifier).toEqual(registeredPatient().identifier);
  });

  it('reads back the acknowledgement it built, AA and AE with the reason', () => {
    const aa = buildAcknowledgement({ typeCode: 'AA', text: '成功', targetMessageId: 'm-1' }, outbound);
    expect(readAcknowledgement(aa)).toEqual({ typeCode: 'AA', text: '成功', targetMessageId: 'm-1' });
    const failed = hl7v3ToBundle('<PRPA_IN201311UV02 xmlns="urn:hl7-org:v3"><id root="2.16.156.10011.2.5.1.1"/></PRPA_IN201311UV02>', inbound);
    const ae = acknowledgementFor(failed, { interaction: 'PRPA_IN201311UV02', messageId: 'm-2', senderDevice: 'HIS' }, outbound);
    expect(readAcknowledgement(ae)).toEqual({
      typeCode: 'AE',
      text: 'the message id (id@extension) is missing (/PRPA_IN201311UV02/id/@extension)',
      targetMessageId: 'm-2',
    });
    expect(ae).toContain('<item root="2.16.156.10011.2.5.1.3" extension="HIS"/>');
  });
});
