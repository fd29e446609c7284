import type { Bundle } from '@medplum/fhirtypes';
import { validateResourceForWrite } from '../../../fhir-resources/validation/validate-resource';
import { hl7v3ToBundle } from '../../../mappings/hl7v3';
import { asBundle, fixture, inbound, json } from './hl7v3-fixtures';

const SAMPLES: Array<[string, string]> = [
  ['个人信息注册 with every field', 'prpa-in201311uv02-register-full'],
  ['个人信息更新 without an ID number', 'prpa-in201314uv02-update-address'],
  ['个人信息合并', 'prpa-in201304uv02-merge'],
  ['个人信息查询', 'prpa-in201305uv02-patient-query'],
  ['个人信息查询 answer', 'prpa-in201306uv02-query-answer'],
  ['门诊挂号', 'prpa-in400001uv-outpatient-registration'],
  ['门诊预约', 'prpa-in410001uv-outpatient-appointment'],
  ['号源排班', 'prsc-in030101uv-schedule'],
  ['检验申请单新增', 'poor-in200901uv-lab-application'],
  ['检验申请单更新 (cancelled)', 'poor-in200902uv-lab-application-cancel'],
  ['西药处方 with prices', 'poor-in200901uv-western-prescription'],
  ['检查申请单 with prices', 'poor-in200901uv-exam-application-priced'],
];

describe('HL7 v3 inbound golden samples', () => {
  it.each(SAMPLES)('maps the %s sample to its expected Bundle', (_what, name) => {
    expect(hl7v3ToBundle(fixture(`${name}.xml`), inbound)).toEqual(json(`${name}.bundle.json`));
  });

  it.each(SAMPLES)('writes only resources that pass validateResourceForWrite (%s)', (_what, name) => {
    const bundle = asBundle(hl7v3ToBundle(fixture(`${name}.xml`), inbound));
    for (const entry of bundle.entry ?? []) {
      if (entry.resource) expect(() => validateResourceForWrite(entry.resource!)).not.toThrow();
    }
  });

  it.each(SAMPLES)('writes every resource conditionally, so the %s message processed twice changes nothing', (_what, name) => {
    const bundle = asBundle(hl7v3ToBundle(fixture(`${name}.xml`), inbound));
    expect(hl7v3ToBundle(fixture(`${name}.xml`), inbound)).toEqual(bundle);
    for (const entry of bundle.entry ?? []) {
      const r = entry.request!;
      const conditional = (r.method === 'PUT' && r.url.includes('?identifier=')) || (r.method === 'POST' && r.ifNoneExist?.startsWith('identifier='))
        || r.method === 'GET';
      expect(conditional).toBe(true);
    }
  });

  it('points the visit, booking and order resources at the patient entry of the same Bundle', () => {
    for (const name of ['prpa-in400001uv-outpatient-registration', 'prpa-in410001uv-outpatient-appointment', 'poor-in200901uv-lab-application']) {
      const bundle = asBundle(hl7v3ToBundle(fixture(`${name}.xml`), inbound));
      const patientUrl = bundle.entry![0].fullUrl;
      expect(bundle.entry![0].resource?.resourceType).toBe('Patient');
      expect(JSON.stringify(bundle.entry!.slice(1))).toContain(`"reference":"${patientUrl}"`);
    }
  });

  it('gives a slot the identifier an appointment for it refers to', () => {
    const schedule = asBundle(hl7v3ToBundle(fixture('prsc-in030101uv-schedule.xml'), inbound)) as Bundle;
    const appointment = asBundle(hl7v3ToBundle(fixture('prpa-in410001uv-outpatient-appointment.xml'), inbound));
    const slotIds = schedule.entry!.filter((e) => e.resource?.resourceType === 'Slot').map((e) => JSON.stringify((e.resource as { identifier: unknown[] }).identifier[0]));
    const booked = appointment.entry!.find((e) => e.resource?.resourceType === 'Appointment')!.resource as { slot: Array<{ identifier: unknown }> };
    expect(slotIds).toContain(JSON.stringify(booked.slot[0].identifier));
  });
});
