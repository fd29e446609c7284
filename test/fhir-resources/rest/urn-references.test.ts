import type { BundleEntry, Observation, Patient } from '@medplum/fhirtypes';
import { UrnReferences } from '../../../fhir-resources/rest/urn-references';

const patientUrn = 'urn:uuid:7d2c1d6e-4b8f-4a57-9a0e-2f1f6a0c1b11';
const observation = (): Observation => ({
  resourceType: 'Observation', status: 'final', code: { text: '白细胞计数' },
  subject: { reference: patientUrn }, performer: [{ reference: 'Practitioner/p1' }, { reference: patientUrn }],
  hasMember: [{ reference: 'Observation/o2' }],
});
const entries = (): BundleEntry[] => [
  { fullUrl: patientUrn, resource: { resourceType: 'Patient' } as Patient, request: { method: 'POST', url: 'Patient' } },
  { fullUrl: 'urn:uuid:0b8a3c1e-6f0d-4e39-b3a7-5c9d2e4f6a22', resource: observation(), request: { method: 'POST', url: 'Observation' } },
];

describe('UrnReferences', () => {
  it('rewrites the bundle-local references to what their entries became, leaving the source untouched', () => {
    const list = entries();
    const refs = new UrnReferences(list);
    refs.resolve(list[0], 'Patient/p9');
    const source = list[1].resource as Observation;
    const rewritten = refs.rewriteResource(source);
    expect(rewritten.subject?.reference).toBe('Patient/p9');
    expect(rewritten.performer?.map((p) => p.reference)).toEqual(['Practitioner/p1', 'Patient/p9']);
    expect(source).toEqual(observation());
    // Copy on write: what held no bundle-local reference is shared, not copied.
    expect(rewritten.code).toBe(source.code);
    expect(rewritten.hasMember).toBe(source.hasMember);
    expect(rewritten.performer?.[0]).toBe(source.performer?.[0]);
  });

  it('returns a resource without bundle-local references as it is', () => {
    const list = entries();
    const refs = new UrnReferences(list);
    refs.resolve(list[0], 'Patient/p9');
    const alone: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } };
    expect(refs.rewriteResource(alone)).toBe(alone);
  });

  it('orders a POST after the POST whose fullUrl it mentions, and tells what is still unresolved', () => {
    const list = entries().reverse();
    const refs = new UrnReferences(list);
    const ordered = refs.order(list, (e) => e, () => true);
    expect(ordered.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'Observation']);
    expect(refs.hasUnresolved(list[0].resource)).toBe(true);
    expect(refs.hasUnresolved(list[1].resource)).toBe(false);
  });
});
