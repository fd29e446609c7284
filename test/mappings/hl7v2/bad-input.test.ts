import { hl7v2ToBundle, parseHl7 } from '../../../mappings/hl7v2';
import { fixture } from './hl7v2-fixtures';

const cbc = fixture('oru-cbc-utf8.hl7');

/** The CBC sample with one segment's field replaced (segment name, occurrence, field number, new raw value). */
function withField(text: string, segment: string, occurrence: number, field: number, value: string): string {
  let seen = 0;
  return text
    .split('\r')
    .map((line) => {
      if (!line.startsWith(`${segment}|`) || ++seen !== occurrence) return line;
      const parts = line.split('|');
      // MSH-1 is the separator itself, so MSH-n sits at parts[n - 1].
      parts[segment === 'MSH' ? field - 1 : field] = value;
      return parts.join('|');
    })
    .join('\r');
}

function issueOf(text: string): { code?: string; expression?: string[]; diagnostics?: string } {
  const out = hl7v2ToBundle(parseHl7(text));
  if (out.resourceType !== 'OperationOutcome') throw new Error(`expected an OperationOutcome, got a ${out.resourceType}`);
  return out.issue[0];
}

describe('HL7 v2 bad input', () => {
  it('answers a message without MSH-9 with an OperationOutcome naming MSH[1].9', () => {
    expect(issueOf(withField(cbc, 'MSH', 1, 9, ''))).toMatchObject({ code: 'required', expression: ['MSH[1].9'] });
  });

  it('answers an unknown event with not-supported naming the event', () => {
    const issue = issueOf(withField(cbc, 'MSH', 1, 9, 'ORU^R99^ORU_R01'));
    expect(issue).toMatchObject({ code: 'not-supported', expression: ['MSH[1].9'] });
    expect(issue.diagnostics).toContain('ORU^R99');
  });

  it('answers an unknown message type with not-supported', () => {
    expect(issueOf(withField(cbc, 'MSH', 1, 9, 'MFN^M02'))).toMatchObject({ code: 'not-supported', expression: ['MSH[1].9'] });
  });

  it('answers a birth date that does not exist with the PID field', () => {
    const issue = issueOf(withField(cbc, 'PID', 1, 7, '19900230'));
    expect(issue).toMatchObject({ code: 'value', expression: ['PID[1].7'] });
    expect(issue.diagnostics).toContain('day 30 does not exist');
  });

  it('answers an observation time that is no date with the OBX field', () => {
    expect(issueOf(withField(cbc, 'OBX', 3, 14, '2025112509301'))).toMatchObject({ code: 'value', expression: ['OBX[3].14'] });
  });

  it('answers a 50,000-character OBX-5 with too-long naming OBX[2].5', () => {
    const issue = issueOf(withField(cbc, 'OBX', 2, 5, '9'.repeat(50_000)));
    expect(issue).toMatchObject({ code: 'too-long', expression: ['OBX[2].5'] });
  });

  it('answers a 居民身份证 number with a wrong check digit with the PID-3 repetition', () => {
    const issue = issueOf(fixture('oru-chem-utf8.hl7'));
    expect(issue).toMatchObject({ code: 'value', expression: ['PID[1].3[2].1'] });
    expect(issue.diagnostics).toContain('check character');
  });

  it('answers a sex that contradicts the 居民身份证 number with PID-8', () => {
    expect(issueOf(withField(cbc, 'PID', 1, 8, 'F'))).toMatchObject({ code: 'value', expression: ['PID[1].8'] });
  });

  it('answers text that is no HL7 message', () => {
    expect(issueOf('{"hello":"灵枢"}')).toMatchObject({ code: 'structure', expression: ['MSH'] });
    expect(issueOf('')).toMatchObject({ code: 'structure', expression: ['MSH'] });
  });

  it('answers a result without a patient identifier with PID-3', () => {
    expect(issueOf(withField(cbc, 'PID', 1, 3, ''))).toMatchObject({ code: 'required', expression: ['PID[1].3'] });
  });
});
