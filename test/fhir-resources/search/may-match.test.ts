import { Operator, type SearchRequest } from '@medplum/core';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { mayMatch } from '../../../fhir-resources/search/may-match';

const MRN = 'urn:oid:2.16.156.10011.1.12';
const patient: Patient = { resourceType: 'Patient', id: 'p1', identifier: [{ system: MRN, value: 'Ab12' }], gender: 'female', name: [{ text: '张三' }] };
const where = (code: string, value: string, operator: Operator = Operator.EQUALS): SearchRequest =>
  ({ resourceType: 'Patient', filters: [{ code, operator, value }] });

describe('mayMatch: whether a written resource could change what a condition matched', () => {
  it('rejects a resource whose tokens of the parameter all differ from the condition', () => {
    expect(mayMatch(patient, where('identifier', `${MRN}|XY99`))).toBe(false);
    expect(mayMatch(patient, where('gender', 'male'))).toBe(false);
  });

  it('keeps a resource that has the token, whatever its case, its system, or which of several values it is', () => {
    expect(mayMatch(patient, where('identifier', `${MRN}|Ab12`))).toBe(true);
    expect(mayMatch(patient, where('identifier', 'ab12'))).toBe(true);
    expect(mayMatch(patient, where('identifier', `other-system|Ab12`))).toBe(true);
    expect(mayMatch(patient, where('identifier', `${MRN}|XY99,${MRN}|Ab12`))).toBe(true);
  });

  it('does not judge what it cannot see in the index rows: _id, modifiers, other types, a system alone', () => {
    expect(mayMatch(patient, where('_id', 'other'))).toBe(true);
    expect(mayMatch(patient, where('identifier', `${MRN}|XY99`, Operator.NOT))).toBe(true);
    expect(mayMatch(patient, where('name', '李四'))).toBe(true);
    expect(mayMatch(patient, where('identifier', `${MRN}|`))).toBe(true);
    expect(mayMatch(patient, where('general-practitioner.identifier', 'x'))).toBe(true);
  });

  it('rejects a resource of another type outright', () => {
    const obs: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, identifier: [{ system: MRN, value: 'Ab12' }] };
    expect(mayMatch(obs, where('identifier', `${MRN}|Ab12`))).toBe(false);
  });
});
