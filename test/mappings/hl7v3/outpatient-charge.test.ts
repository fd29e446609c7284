import type { ChargeItem } from '@medplum/fhirtypes';
import { acknowledgedReceiptNo, paymentToHisCharge, refundToHisRefund, type ChargeMessageInput, type RefundMessageInput } from '../../../mappings/hl7v3';
import { fixture, json, outbound } from './hl7v3-fixtures';

const chargeInput = (): ChargeMessageInput => json<ChargeMessageInput>('outpatient-charge-input.json');
const refundInput = (): RefundMessageInput => json<RefundMessageInput>('outpatient-refund-input.json');
const issues = (result: string | { issue?: Array<{ code: string; expression?: string[] }> }) =>
  typeof result === 'string' ? [] : (result.issue ?? []).map((i) => ({ code: i.code, expression: i.expression }));

describe('门诊收费 / 门诊退费 to the HIS', () => {
  it('writes a paid prescription as the 门诊收费 sample', () => {
    expect(paymentToHisCharge(chargeInput(), outbound)).toBe(fixture('out-outpatient-charge.xml'));
  });

  it('writes a completed refund Task as the 门诊退费 sample', () => {
    expect(refundToHisRefund(refundInput(), outbound)).toBe(fixture('out-outpatient-refund.xml'));
  });

  it('refuses a payment whose amount is not the sum of its charge lines', () => {
    const input = chargeInput();
    input.chargeItems = input.chargeItems.slice(1) as ChargeItem[];
    expect(issues(paymentToHisCharge(input, outbound))).toEqual([{ code: 'invariant', expression: ['PaymentNotice.amount'] }]);
  });

  it('refuses to tell the HIS about a patient it cannot know (no HIS 病人ID)', () => {
    const input = chargeInput();
    input.patient = { ...input.patient, identifier: input.patient.identifier!.filter((i) => !i.system!.endsWith('2.16.156.10011.2.5.1.4')) };
    expect(issues(paymentToHisCharge(input, outbound))).toEqual([{ code: 'required', expression: ['Patient.identifier'] }]);
  });

  it('refuses a refund whose stated amount is not the sum of the lines it names', () => {
    const input = refundInput();
    input.task.input = input.task.input!.map((i) => (i.valueMoney ? { ...i, valueMoney: { ...i.valueMoney, extension: [{ url: i.valueMoney.extension![0].url, valueInteger: 100 }] } } : i));
    expect(issues(refundToHisRefund(input, outbound))).toEqual([{ code: 'invariant', expression: ['Task.input'] }]);
  });

  it('reads the HIS 收据号 from an AA answer and nothing from an AE', () => {
    expect(acknowledgedReceiptNo(fixture('out-mcci-in000002uv01-receipt.xml'))).toEqual({ system: 'urn:oid:2.16.156.10011.2.5.1.96', value: 'SJ2026112600088' });
    expect(acknowledgedReceiptNo(fixture('out-mcci-in000002uv01-receipt.xml').replace('typeCode="AA"', 'typeCode="AE"'))).toBeUndefined();
  });
});
