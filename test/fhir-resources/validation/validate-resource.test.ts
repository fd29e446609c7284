import { OperationOutcomeError } from '@medplum/core';
import type { Bundle, OperationOutcome, OperationOutcomeIssue, Patient, Resource } from '@medplum/fhirtypes';
import { validateResourceForWrite } from '../../../fhir-resources/validation/validate-resource';

/** The issues validateResourceForWrite throws for `resource`; fails the test when it does not throw. */
function issuesOf(resource: unknown): OperationOutcomeIssue[] {
  try {
    validateResourceForWrite(resource as Resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return (err.outcome as OperationOutcome).issue ?? [];
    throw err;
  }
  throw new Error('expected validateResourceForWrite to throw');
}

const expressions = (resource: unknown): string[] => issuesOf(resource).map((i) => i.expression?.[0] ?? '(none)');

describe('validateResourceForWrite: R4 structure', () => {
  it('accepts a well-formed Patient', () => {
    expect(() => validateResourceForWrite({ resourceType: 'Patient', name: [{ text: '张三' }], gender: 'male', birthDate: '1990-05-01' })).not.toThrow();
  });

  it('names each missing required element', () => {
    expect(expressions({ resourceType: 'Observation' })).toEqual(['Observation.status', 'Observation.code']);
  });

  it('reports a second value for a single-valued element', () => {
    expect(issuesOf({ resourceType: 'Patient', birthDate: ['1990-01-01', '1991-01-01'] })).toEqual([
      expect.objectContaining({ severity: 'error', code: 'structure', expression: ['Patient.birthDate'] }),
    ]);
  });

  it('reports a single value where the element repeats', () => {
    expect(expressions({ resourceType: 'Patient', identifier: { value: 'MRN1' } })).toEqual(['Patient.identifier']);
  });

  it('reports a value of the wrong JSON type', () => {
    expect(expressions({ resourceType: 'Patient', active: 'yes' })).toEqual(['Patient.active']);
  });

  it('reports an element the resource does not define', () => {
    expect(expressions({ resourceType: 'Patient', nickname: '小张' })).toEqual(['Patient.nickname']);
  });

  it('reports an unknown resource type at Resource.resourceType', () => {
    expect(issuesOf({ resourceType: 'Pateint' })).toEqual([
      expect.objectContaining({ code: 'invalid', expression: ['Resource.resourceType'], diagnostics: 'Unknown data type: Pateint' }),
    ]);
  });

  it('gives every issue plain-words diagnostics', () => {
    const issues = issuesOf({ resourceType: 'Observation', status: 'final', code: { text: '血红蛋白' }, valueQuantity: { value: 'high' } });
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect(issue.diagnostics).toEqual(expect.any(String));
  });
});

describe('validateResourceForWrite: required code bindings', () => {
  it('refuses Patient.gender x at Patient.gender', () => {
    expect(issuesOf({ resourceType: 'Patient', gender: 'x' })).toEqual([
      {
        severity: 'error',
        code: 'code-invalid',
        diagnostics: "'x' is not in the value set http://hl7.org/fhir/ValueSet/administrative-gender (allowed: male, female, other, unknown)",
        expression: ['Patient.gender'],
      },
    ]);
  });

  it('indexes a bad code inside a repeating backbone element', () => {
    const patient = { resourceType: 'Patient', contact: [{ name: { text: '李四' }, gender: 'female' }, { name: { text: '王五' }, gender: 'M' }] };
    expect(expressions(patient)).toEqual(['Patient.contact[1].gender']);
  });

  it('names a choice element the FHIRPath way', () => {
    const observation = { resourceType: 'Observation', status: 'final', code: { text: '血糖' }, valueQuantity: { value: 5.1, comparator: '~' } };
    expect(expressions(observation)).toEqual(['Observation.value.ofType(Quantity).comparator']);
  });

  it('refuses a CodeableConcept none of whose codings is in a required value set', () => {
    const condition = {
      resourceType: 'Condition',
      subject: { reference: 'Patient/p1' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'gone' }] },
    };
    expect(expressions(condition)).toEqual(['Condition.clinicalStatus.coding']);
  });

  it('accepts a CodeableConcept with a coding from the required value set', () => {
    const condition = {
      resourceType: 'Condition',
      subject: { reference: 'Patient/p1' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    };
    expect(() => validateResourceForWrite(condition as Resource)).not.toThrow();
  });

  it('refuses text alone where a CodeableConcept binding is required', () => {
    const condition = { resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus: { text: '活动' } };
    expect(issuesOf(condition)).toEqual([expect.objectContaining({ code: 'required', expression: ['Condition.clinicalStatus.coding'] })]);
  });

  it('refuses a transaction entry whose request method is not one of the HTTP verbs', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'PUSH', url: 'Patient' } }],
    };
    expect(expressions(bundle)).toEqual(['Bundle.entry[0].request.method']);
  });

  it('checks resources inside Bundle entries', () => {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', gender: 'x' as Patient['gender'] } }] };
    expect(expressions(bundle)).toEqual(['Bundle.entry[0].resource.gender']);
  });

  it('checks contained resources', () => {
    const observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: '血糖' },
      subject: { reference: '#p' },
      contained: [{ resourceType: 'Patient', id: 'p', gender: 'f' }],
    };
    expect(expressions(observation)).toEqual(['Observation.contained[0].gender']);
  });

  it('skips a binding whose value set cannot be expanded offline (mimetypes)', () => {
    expect(() => validateResourceForWrite({ resourceType: 'Patient', photo: [{ contentType: 'image/x-lingshu-test' }] })).not.toThrow();
  });
});

describe('validateResourceForWrite: every problem at once', () => {
  it('collects structure, binding and China profile issues in one OperationOutcome', () => {
    const patient = {
      resourceType: 'Patient',
      active: 'yes',
      gender: 'x',
      identifier: [{ type: { coding: [{ system: 'http://lingshu.health/CodeSystem/id-document-type', code: '01' }] }, value: '110105194912310021' }],
    };
    expect(expressions(patient).sort()).toEqual(['Patient.active', 'Patient.gender', 'Patient.identifier[0].value']);
  });

  it('reports the same bad code in two entries twice, each with its own path', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', gender: 'x' } }, { resource: { resourceType: 'Patient', gender: 'y' } }],
    };
    expect(expressions(bundle)).toEqual(['Bundle.entry[0].resource.gender', 'Bundle.entry[1].resource.gender']);
  });
});

describe('validateResourceForWrite: resources of the mission pass unchanged', () => {
  const patientRef = { reference: 'Patient/p1' };
  const resources: Resource[] = [
    { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' }, subject: patientRef },
    {
      resourceType: 'Observation', status: 'final', subject: patientRef, effectiveDateTime: '2026-11-20T08:30:00+08:00',
      code: { coding: [{ system: 'http://loinc.org', code: '718-7' }], text: '血红蛋白' },
      valueQuantity: { value: 135, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'N' }] }],
    },
    {
      resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: patientRef,
      groupIdentifier: { system: 'urn:lingshu:prescription', value: 'RX20261120001' },
      medicationCodeableConcept: { text: '阿莫西林胶囊 0.25g' },
      dosageInstruction: [{ text: '每日三次，每次 2 粒', timing: { repeat: { frequency: 3, period: 1, periodUnit: 'd' } } }],
      dispenseRequest: { quantity: { value: 24, unit: '粒' } },
    },
    { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: patientRef, code: { text: '血常规' }, patientInstruction: '空腹' },
    {
      resourceType: 'ChargeItem', status: 'billable', subject: patientRef, code: { text: '血常规' },
      priceOverride: { value: 25, currency: 'CNY' }, quantity: { value: 1 },
    },
    {
      resourceType: 'Invoice', status: 'issued', subject: patientRef, totalGross: { value: 25, currency: 'CNY' },
      lineItem: [{ chargeItemReference: { reference: 'ChargeItem/c1' }, priceComponent: [{ type: 'base', amount: { value: 25, currency: 'CNY' } }] }],
    },
    {
      resourceType: 'Appointment', status: 'waitlist', participant: [{ actor: patientRef, status: 'accepted' }],
      requestedPeriod: [{ start: '2026-12-01', end: '2026-12-07' }],
    },
    {
      resourceType: 'Task', status: 'requested', intent: 'order', businessStatus: { text: '待审核' },
      code: { coding: [{ system: 'http://lingshu.health/CodeSystem/task-code', code: 'refund' }] }, for: patientRef,
    },
    {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:2d1f9d1e-8c4f-4bdb-9f8e-0a6f7c4e0b11', resource: { resourceType: 'Patient', gender: 'female' }, request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Observation', status: 'final', code: { text: '体温' }, subject: { reference: 'urn:uuid:2d1f9d1e-8c4f-4bdb-9f8e-0a6f7c4e0b11' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    },
  ];

  it.each(resources.map((r) => [r.resourceType, r] as const))('accepts a typical %s', (_type, resource) => {
    expect(() => validateResourceForWrite(resource)).not.toThrow();
  });
});
