import { idDocumentNumberProblem } from '../../../fhir-resources/profiles/id-document-number';

describe('ID document numbers by document type (CV02.01.101)', () => {
  it('checks a 居民户口簿 number as a 公民身份号码', () => {
    expect(idDocumentNumberProblem('02', '11010519491231002X')).toBeUndefined();
    expect(idDocumentNumberProblem('02', '110105194912310021')).toMatch(/check character/);
  });

  it('accepts a passport number of letters and digits and rejects one with spaces', () => {
    expect(idDocumentNumberProblem('03', 'E12345678')).toBeUndefined();
    expect(idDocumentNumberProblem('03', 'E1234 5678')).toMatch(/letters or digits/);
  });

  it('accepts 港澳通行证 numbers starting with H or M and rejects others', () => {
    expect(idDocumentNumberProblem('06', 'H12345678')).toBeUndefined();
    expect(idDocumentNumberProblem('06', 'M1234567890')).toBeUndefined();
    expect(idDocumentNumberProblem('06', 'K12345678')).toMatch(/H or M/);
  });

  it('accepts an 8-digit 台胞证 number and rejects a 9-digit one', () => {
    expect(idDocumentNumberProblem('07', '12345678')).toBeUndefined();
    expect(idDocumentNumberProblem('07', '123456789')).toMatch(/8 digits/);
  });

  it('accepts any single token for 军官证 and rejects blanks', () => {
    expect(idDocumentNumberProblem('04', '军字第2001234号')).toBeUndefined();
    expect(idDocumentNumberProblem('04', '  ')).toMatch(/without spaces/);
  });
});
