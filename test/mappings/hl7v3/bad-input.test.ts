import { hl7v3ToBundle, readAcknowledgement } from '../../../mappings/hl7v3';
import { fixture, inbound } from './hl7v3-fixtures';

const REGISTER = 'prpa-in201311uv02-register-full.xml';
const PERSON = '/PRPA_IN201311UV02/controlActProcess/subject/registrationRequest/subject1/patient/patientPerson';

function problems(xml: string): Array<{ code: string; expression: string[] | undefined }> {
  const result = hl7v3ToBundle(xml, inbound);
  if (result.resourceType !== 'OperationOutcome') throw new Error('expected an OperationOutcome');
  return (result.issue ?? []).map((i) => ({ code: i.code, expression: i.expression }));
}

describe('HL7 v3 bad input ends as an OperationOutcome, never a throw', () => {
  it('reports XML that is not well-formed (a truncated message)', () => {
    expect(problems(fixture('malformed-unclosed-tag.xml'))).toEqual([{ code: 'structure', expression: ['/'] }]);
  });

  it('refuses a DTD with an entity (billion laughs) without expanding it', () => {
    const xml = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' +
      '<PRPA_IN201311UV02 xmlns="urn:hl7-org:v3"><id extension="&lol2;"/></PRPA_IN201311UV02>';
    expect(problems(xml)).toEqual([{ code: 'security', expression: ['/'] }]);
  });

  it('refuses an external entity (XXE)', () => {
    const xml = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><PRPA_IN201311UV02 xmlns="urn:hl7-org:v3">&xxe;</PRPA_IN201311UV02>';
    expect(problems(xml)).toEqual([{ code: 'security', expression: ['/'] }]);
  });

  it('reports an empty message', () => {
    expect(problems('   ')).toEqual([{ code: 'required', expression: ['/'] }]);
  });

  it('reports an unknown interaction by its root element', () => {
    expect(problems(fixture('qumt-in020030uv01-order-query.xml'))).toEqual([{ code: 'not-supported', expression: ['/QUMT_IN020030UV01'] }]);
  });

  it('reports a root element outside the HL7 v3 namespace', () => {
    expect(problems('<PRPA_IN201311UV02><id extension="x"/></PRPA_IN201311UV02>')).toEqual([{ code: 'structure', expression: ['/PRPA_IN201311UV02'] }]);
  });

  it('reports a missing message id', () => {
    const xml = fixture(REGISTER).replace('extension="7d1f3a52-6c0e-4b8e-9a41-2f5d7c9e0b13"', '');
    expect(problems(xml)).toEqual([{ code: 'required', expression: ['/PRPA_IN201311UV02/id/@extension'] }]);
  });

  it('reports a missing 就诊流水号 on a 挂号', () => {
    const xml = fixture('prpa-in400001uv-outpatient-registration.xml').replace('root="2.16.156.10011.2.5.1.9"', 'root="2.16.156.10011.2.5.1.0"');
    expect(problems(xml)).toEqual([{ code: 'required', expression: ['/PRPA_IN400001UV/controlActProcess/subject/encounterEvent/id'] }]);
  });

  it('reports an invalid birth date at its attribute', () => {
    const xml = fixture(REGISTER).replace('<birthTime value="19780615"/>', '<birthTime value="19780231"/>');
    expect(problems(xml)).toEqual([{ code: 'value', expression: [`${PERSON}/birthTime/@value`] }]);
  });

  it('reports an invalid time in a 号源 period', () => {
    const xml = fixture('prsc-in030101uv-schedule.xml').replace('<high value="20261130090000"/>', '<high value="20261130250000"/>');
    expect(problems(xml)).toEqual([{
      code: 'value',
      expression: ['/PRSC_IN030101UV/controlActProcess/subject/schedule/resourceSlot/timeFrame[1]/effectiveTime/high/@value'],
    }]);
  });

  it('reports a 身份证 number with a wrong check digit (the number in the older sample)', () => {
    expect(problems(fixture('prpa-in201311uv02-patient-register.xml'))).toContainEqual({
      code: 'value', expression: [`${PERSON}/id/item/@extension`],
    });
  });

  it('reports a gender that contradicts the 身份证 number, and codes outside the national tables, all at once', () => {
    const xml = fixture(REGISTER)
      .replace('<administrativeGenderCode code="2"', '<administrativeGenderCode code="1"')
      .replace('<item code="08" codeSystem="2.16.156.10011.2.3.3.3"', '<item code="88" codeSystem="2.16.156.10011.2.3.3.3"')
      .replace('<code code="156" codeSystem="2.16.156.10011.2.3.3.1"/>', '<code code="999" codeSystem="2.16.156.10011.2.3.3.1"/>');
    expect(problems(xml)).toEqual([
      { code: 'value', expression: [`${PERSON}/administrativeGenderCode/@code`] },
      { code: 'code-invalid', expression: [`${PERSON}/ethnicGroupCode/item/@code`] },
      { code: 'code-invalid', expression: [`${PERSON}/asCitizen/politicalNation/code/@code`] },
    ]);
  });

  it('refuses a drug order that names no 处方编号, since the bill pays a prescription by it', () => {
    const xml = fixture('poor-in200901uv-lab-application.xml').replace(
      '<component2>\n          <observationRequest classCode="OBS" moodCode="RQO">\n            <id>\n              <item root="2.16.156.10011.1.28" extension="YZ2026112600902"/>',
      '<component2>\n          <substanceAdministrationRequest classCode="SBADM" moodCode="RQO"/>\n        </component2>\n        <component2>\n          <observationRequest classCode="OBS" moodCode="RQO">\n            <id>\n              <item root="2.16.156.10011.1.28" extension="YZ2026112600902"/>',
    );
    expect(problems(xml)).toContainEqual({ code: 'required', expression: ['/POOR_IN200901UV/controlActProcess/subject/observationRequest/id'] });
    expect(problems(xml)).toContainEqual({
      code: 'required', expression: ['/POOR_IN200901UV/controlActProcess/subject/observationRequest/component2[2]/substanceAdministrationRequest/consumable2'],
    });
  });

  it('does not throw on input that is not a string', () => {
    expect(problems(undefined as unknown as string)).toEqual([{ code: 'required', expression: ['/'] }]);
  });

  it('reads an acknowledgement without typeCode as a problem', () => {
    expect(readAcknowledgement('<MCCI_IN000002UV01 xmlns="urn:hl7-org:v3"><id extension="a"/><acknowledgement/></MCCI_IN000002UV01>')).toMatchObject({
      resourceType: 'OperationOutcome', issue: [{ code: 'required', expression: ['/MCCI_IN000002UV01/acknowledgement/@typeCode'] }],
    });
  });
});
