import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { boolean, code, integer, many, optional, parts, ref, resource, string } from '../../../fhir-resources/operations/operation';
import { decodeParameters, encodeParameters, parametersFromQuery } from '../../../fhir-resources/operations/operation-parameters';

/* Parameters in and out, checked against a declaration (pure functions; the HTTP path is in operation-routes.test.ts). */

const shape = {
  patient: ref('Patient'),
  item: many(ref('MedicationRequest', 'ServiceRequest'), { min: 1, max: 3 }),
  channel: code(),
  note: optional(string()),
  urgent: optional(boolean()),
};

function failure(fn: () => unknown): { status: number; outcome: OperationOutcome } {
  try {
    fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError) return { status: getStatus(err.outcome), outcome: err.outcome };
    throw err;
  }
  throw new Error('expected a failure');
}

const valid = (): Parameters => ({
  resourceType: 'Parameters',
  parameter: [
    { name: 'patient', valueReference: { reference: 'Patient/1' } },
    { name: 'item', valueReference: { reference: 'MedicationRequest/9' } },
    { name: 'item', valueReference: { reference: 'ServiceRequest/4' } },
    { name: 'channel', valueCode: 'wechatpay' },
  ],
});

describe('operation parameters', () => {
  it('decodes single values, lists for repeating parameters and leaves absent optionals undefined', () => {
    expect(decodeParameters(valid(), shape)).toEqual({
      patient: { reference: 'Patient/1' },
      item: [{ reference: 'MedicationRequest/9' }, { reference: 'ServiceRequest/4' }],
      channel: 'wechatpay',
      note: undefined,
      urgent: undefined,
    });
  });

  it('answers a missing required parameter with 400 and its expression', () => {
    const p = valid();
    p.parameter = p.parameter!.filter((x) => x.name !== 'channel');
    const { status, outcome } = failure(() => decodeParameters(p, shape));
    expect(status).toBe(400);
    expect(outcome.issue).toEqual([expect.objectContaining({ code: 'required', expression: ['Parameters.parameter[channel]'] })]);
  });

  it('answers a value of the wrong type with 400 naming the parameter', () => {
    const p = valid();
    p.parameter!.push({ name: 'urgent', valueString: 'yes' });
    const { status, outcome } = failure(() => decodeParameters(p, shape));
    expect(status).toBe(400);
    expect(outcome.issue?.[0].expression).toEqual(['Parameters.parameter[urgent]']);
  });

  it('answers more values than the declared maximum with 400', () => {
    const p = valid();
    p.parameter!.push({ name: 'item', valueReference: { reference: 'ServiceRequest/5' } }, { name: 'item', valueReference: { reference: 'ServiceRequest/6' } });
    expect(failure(() => decodeParameters(p, shape)).outcome.issue?.[0].diagnostics).toMatch(/at most 3/);
  });

  it('answers fewer values than the declared minimum with 400', () => {
    const p = valid();
    p.parameter = p.parameter!.filter((x) => x.name !== 'item');
    expect(failure(() => decodeParameters(p, shape)).outcome.issue?.[0].expression).toEqual(['Parameters.parameter[item]']);
  });

  it('answers a reference to a type the declaration does not allow with 400', () => {
    const p = valid();
    p.parameter![0] = { name: 'patient', valueReference: { reference: 'Practitioner/1' } };
    expect(failure(() => decodeParameters(p, shape)).outcome.issue?.[0].diagnostics).toMatch(/Patient/);
  });

  it('answers an undeclared parameter with 400', () => {
    const p = valid();
    p.parameter!.push({ name: 'discount', valueInteger: 50 });
    expect(failure(() => decodeParameters(p, shape)).outcome.issue?.[0].expression).toEqual(['Parameters.parameter[discount]']);
  });

  it('reports every problem of one request at once', () => {
    const { outcome } = failure(() => decodeParameters({ resourceType: 'Parameters', parameter: [{ name: 'urgent', valueBoolean: true }] }, shape));
    expect(outcome.issue?.map((i) => i.expression?.[0])).toEqual(['Parameters.parameter[patient]', 'Parameters.parameter[item]', 'Parameters.parameter[channel]']);
  });

  it('checks a resource parameter\'s type', () => {
    const s = { subject: resource('Patient') };
    const { outcome } = failure(() => decodeParameters({ resourceType: 'Parameters', parameter: [{ name: 'subject', resource: { resourceType: 'Group', type: 'person', actual: true } }] }, s));
    expect(outcome.issue?.[0].diagnostics).toMatch(/needs a Patient, got a Group/);
  });

  it('reads query parameters of a GET as typed values', () => {
    const s = { patient: ref('Patient'), count: optional(integer()), urgent: optional(boolean()) };
    expect(decodeParameters(parametersFromQuery({ patient: 'Patient/7', count: '3', urgent: 'false' }, s), s))
      .toEqual({ patient: { reference: 'Patient/7' }, count: 3, urgent: false });
  });

  it('encodes outputs, with parts, in declaration order', () => {
    const out = { invoice: ref('Invoice'), payment: parts({ channel: code(), outTradeNo: string() }) };
    expect(encodeParameters({ payment: { channel: 'alipay', outTradeNo: 'T1' }, invoice: { reference: 'Invoice/2' } }, out)).toEqual({
      resourceType: 'Parameters',
      parameter: [
        { name: 'invoice', valueReference: { reference: 'Invoice/2' } },
        { name: 'payment', part: [{ name: 'channel', valueCode: 'alipay' }, { name: 'outTradeNo', valueString: 'T1' }] },
      ],
    });
  });

  it('treats an operation that leaves out a required output as a server fault (500)', () => {
    expect(failure(() => encodeParameters({}, { invoice: ref('Invoice') })).status).toBe(500);
  });
});
