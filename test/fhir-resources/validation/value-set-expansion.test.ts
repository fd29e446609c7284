import { expandValueSet, expansionContains, registerTerminology } from '../../../fhir-resources/validation/value-set-expansion';

describe('offline value set expansion', () => {
  it('expands a value set that includes a whole R4 code system', () => {
    const genders = expandValueSet('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1');
    expect(genders?.get('http://hl7.org/fhir/administrative-gender')).toEqual(new Set(['male', 'female', 'other', 'unknown']));
  });

  it('expands an is-a filter over a v3 code system to the concept and its descendants', () => {
    // v3 ActEncounterCode is `concept is-a _ActEncounterCode` over v3-ActCode.
    const expansion = expandValueSet('http://terminology.hl7.org/ValueSet/v3-ActEncounterCode');
    const actCode = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
    expect(expansion && expansionContains(expansion, 'AMB', actCode)).toBe(true);
    expect(expansion && expansionContains(expansion, 'VR', actCode)).toBe(true);
    expect(expansion && expansionContains(expansion, 'CHRG', actCode)).toBe(false);
  });

  it('matches a code in any system when the value has no system', () => {
    const expansion = expandValueSet('http://hl7.org/fhir/ValueSet/observation-status');
    expect(expansion && expansionContains(expansion, 'final')).toBe(true);
    expect(expansion && expansionContains(expansion, 'final', 'http://example.org/other')).toBe(false);
  });

  it('cannot expand mimetypes, whose codes live in BCP 13 outside the definitions', () => {
    expect(expandValueSet('http://hl7.org/fhir/ValueSet/mimetypes|4.0.1')).toBeUndefined();
  });

  it('cannot expand a value set it does not know', () => {
    expect(expandValueSet('http://example.org/ValueSet/unknown')).toBeUndefined();
  });

  it('expands value sets registered at run time', () => {
    registerTerminology([
      { resourceType: 'CodeSystem', url: 'http://example.org/cs', status: 'active', content: 'complete', concept: [{ code: 'a', concept: [{ code: 'a1' }] }] },
      { resourceType: 'ValueSet', url: 'http://example.org/vs', status: 'active', compose: { include: [{ system: 'http://example.org/cs' }], exclude: [{ system: 'http://example.org/cs', concept: [{ code: 'a' }] }] } },
    ]);
    expect(expandValueSet('http://example.org/vs')?.get('http://example.org/cs')).toEqual(new Set(['a1']));
  });
});
