import type { Patient } from '@medplum/fhirtypes';
import { RESIDENT_ID_SYSTEM } from '../../../fhir-resources/profiles';
import { hl7v3ToBundle, patientMatch } from '../../../mappings/hl7v3';
import { asBundle, fixture, inbound } from './hl7v3-fixtures';

describe('master patient index rule (技术要求 10) in the v3 mapping output', () => {
  it('makes the EMPI id the first, usual identifier of the registered patient', () => {
    const patient = asBundle(hl7v3ToBundle(fixture('prpa-in201311uv02-register-full.xml'), inbound)).entry![0].resource as Patient;
    expect(patient.identifier![0]).toEqual({ use: 'usual', system: 'urn:oid:2.16.156.10011.2.5.1.4', value: 'P000200417' });
  });

  it('registers by conditional update matching the 身份证 number or the EMPI id, so a known ID number updates that patient', () => {
    const entry = asBundle(hl7v3ToBundle(fixture('prpa-in201311uv02-register-full.xml'), inbound)).entry![0];
    expect(entry.request).toEqual({
      method: 'PUT',
      url: `Patient?identifier=${RESIDENT_ID_SYSTEM}|450102197806150029,urn:oid:2.16.156.10011.2.5.1.4|P000200417`,
    });
  });

  it('keys on the EMPI id alone when the message carries no ID number', () => {
    const entry = asBundle(hl7v3ToBundle(fixture('prpa-in201314uv02-update-address.xml'), inbound)).entry![0];
    expect(entry.request).toEqual({ method: 'PUT', url: 'Patient?identifier=urn:oid:2.16.156.10011.2.5.1.4|P000200417' });
  });

  it('creates a patient a 挂号 only mentions with the same key, leaving a registered one untouched', () => {
    const entry = asBundle(hl7v3ToBundle(fixture('prpa-in400001uv-outpatient-registration.xml'), inbound)).entry![0];
    expect(entry.request).toEqual({
      method: 'POST', url: 'Patient',
      ifNoneExist: `identifier=${RESIDENT_ID_SYSTEM}|450102197806150029,urn:oid:2.16.156.10011.2.5.1.4|P000200417`,
    });
  });

  it('marks a merged-away patient inactive with a replaced-by link to the survivor', () => {
    const bundle = asBundle(hl7v3ToBundle(fixture('prpa-in201304uv02-merge.xml'), inbound));
    const [survivor, replaced] = bundle.entry!;
    expect(replaced.request).toEqual({ method: 'PUT', url: 'Patient?identifier=urn:oid:2.16.156.10011.2.5.1.4|P000200533' });
    expect(replaced.resource).toMatchObject({ active: false, link: [{ type: 'replaced-by', other: { reference: survivor.fullUrl } }] });
  });

  it('refuses a registration without an id under the configured EMPI root', () => {
    const result = hl7v3ToBundle(fixture('prpa-in201311uv02-register-full.xml'), { empiRoot: '2.16.156.10011.2.5.1.99' });
    expect(result).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ code: 'required', expression: ['/PRPA_IN201311UV02/controlActProcess/subject/registrationRequest/subject1/patient/id'] }],
    });
  });

  it('escapes search-significant characters in an identifier value', () => {
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:oid:2.16.156.10011.2.5.1.4', value: 'A,B|C' }] };
    expect(patientMatch(patient, inbound.empiRoot)).toBe('identifier=urn:oid:2.16.156.10011.2.5.1.4|A%5C%2CB%5C|C');
  });
});
