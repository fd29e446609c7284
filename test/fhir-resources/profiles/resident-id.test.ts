import {
  birthDateFromResidentId,
  genderFromResidentId,
  isValidResidentId,
  residentIdCheckDigit,
  residentIdProblem,
} from '../../../fhir-resources/profiles/resident-id';

// Check characters below were computed by hand with GB 11643-1999 §5.2 (ISO 7064 MOD 11-2), independently of the code.
describe('公民身份号码 (GB 11643-1999)', () => {
  it('computes X as the check character of the standard example 11010519491231002X', () => {
    expect(residentIdCheckDigit('11010519491231002')).toBe('X');
  });

  it('computes 4 as the check character of the standard example 440524188001010014', () => {
    expect(residentIdCheckDigit('44052418800101001')).toBe('4');
  });

  it('gives no check character for input that is not 17 digits', () => {
    expect(residentIdCheckDigit('1101051949123100')).toBeUndefined();
    expect(residentIdCheckDigit('1101051949123100A')).toBeUndefined();
  });

  it('accepts both standard examples and a leap-day birth', () => {
    expect(isValidResidentId('11010519491231002X')).toBe(true);
    expect(isValidResidentId('440524188001010014')).toBe(true);
    expect(isValidResidentId('450102200002291234')).toBe(true);
  });

  it('accepts a lower-case x as the check character', () => {
    expect(isValidResidentId('11010519491231002x')).toBe(true);
  });

  it('rejects a number whose check character does not match', () => {
    expect(isValidResidentId('110105194912310021')).toBe(false);
    expect(residentIdProblem('110105194912310021')).toMatch(/check character is 1 but the number computes X/);
  });

  it('rejects 29 February of a year that is not a leap year even with a matching check character', () => {
    expect(residentIdProblem('450102199902291234')).toMatch(/not a real date of birth/);
  });

  it('rejects month 13 even with a matching check character', () => {
    expect(residentIdProblem('450102198513151233')).toMatch(/not a real date of birth/);
  });

  it('rejects a birth date after today', () => {
    expect(residentIdProblem('450102209901011233', '2026-01-01')).toMatch(/in the future/);
  });

  it('rejects a number that does not start with a province code', () => {
    expect(residentIdProblem('990102198507151232')).toMatch(/not a province code/);
  });

  it('rejects 15-digit first-generation numbers and other lengths', () => {
    expect(isValidResidentId('110105491231002')).toBe(false);
    expect(isValidResidentId('11010519491231002X1')).toBe(false);
  });

  it('reads the birth date from characters 7 to 14', () => {
    expect(birthDateFromResidentId('11010519491231002X')).toBe('1949-12-31');
  });

  it('reads no birth date from an invalid number', () => {
    expect(birthDateFromResidentId('110105194912310021')).toBeUndefined();
  });

  it('reads female from an even 17th character and male from an odd one', () => {
    expect(genderFromResidentId('11010519491231002X')).toBe('female');
    expect(genderFromResidentId('110105194912310011')).toBe('male');
  });
});
