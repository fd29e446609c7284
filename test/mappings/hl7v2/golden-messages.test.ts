import { hl7v2ToBundle, parseHl7, type Hl7v2Context } from '../../../mappings/hl7v2';
import { fixture, golden, writeProblems } from './hl7v2-fixtures';

/** What the 桃源院区 channels configure: the HIS 病案号 namespaces by campus. */
const context: Hl7v2Context = {
  authoritySystems: {
    TYHIS: 'http://lingshu.health/sid/taoyuan-his-patient-id',
    BYHIS: 'http://lingshu.health/sid/beiyuan-his-patient-id',
    XHHIS: 'http://lingshu.health/sid/xinghu-his-patient-id',
  },
  defaultAuthority: 'HIS',
};

const samples: ReadonlyArray<[string, string]> = [
  ['adt-a01-utf8.hl7', 'an inpatient admission (ADT^A01) with 身份证 in PID-3, NK1, DG1 and IN1'],
  ['adt-a01-gbk.hl7', 'the same admission sent as GBK bytes declared in MSH-18'],
  ['adt-a04-utf8.hl7', 'an outpatient registration (ADT^A04) with nationality, ethnicity, division code, e-mail and a Z-segment, CRLF ends'],
  ['adt-a40-utf8.hl7', 'a patient merge (ADT^A40) with LF segment ends'],
  ['orm-o01-utf8.hl7', 'a CT exam order (ORM^O01) whose item name carries an escaped subcomponent separator'],
  ['oml-o21-gbk.hl7', 'a lab order (OML^O21) in GBK, stat priority'],
  ['omg-o19-utf8.hl7', 'two 康复 treatment orders (OMG^O19)'],
  ['oru-cbc-utf8.hl7', 'a 血常规 report (ORU^R01) with low RBC/HGB/HCT flags and an NTE'],
  ['oru-cbc-gbk.hl7', 'the same report from a GBK LIS that leaves MSH-18 empty'],
  ['oru-pacs-ct-utf8.hl7', 'a chest CT report (ORU^R01) with TX findings and an RP image link'],
  ['siu-s12-utf8.hl7', 'a 医技预约 booking (SIU^S12)'],
  ['siu-s15-utf8.hl7', 'the cancellation of that booking (SIU^S15), which frees the slot'],
];

describe('HL7 v2 golden samples', () => {
  it.each(samples)('maps %s (%s) to the Bundle beside it', (name) => {
    const output = hl7v2ToBundle(parseHl7(fixture(name)), context);
    expect(output).toEqual(golden(name.replace(/\.hl7$/, '.bundle.json'), output));
  });

  it.each(samples)('writes every entry of %s past the store validation', (name) => {
    expect(writeProblems(hl7v2ToBundle(parseHl7(fixture(name)), context))).toEqual([]);
  });
});
