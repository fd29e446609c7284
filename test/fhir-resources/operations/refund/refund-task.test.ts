import { outRefundNo, refundSequenceOf } from '../../../../fhir-resources/operations/refund/refund-task';

describe('out_refund_no of a refund Task', () => {
  it('is R, the order number and the refund\'s sequence', () => {
    expect(outRefundNo('LS20261126000123', 3)).toBe('RLS20261126000123-3');
  });

  it('keeps the end of an order number too long for 64 characters, where its sequence is', () => {
    const long = `A${'0'.repeat(60)}789`;
    const no = outRefundNo(long, 12);
    expect(no).toHaveLength(64);
    expect(no).toMatch(/^R0+789-12$/);
  });

  it('gives back the sequence it was made with', () => {
    expect(refundSequenceOf(outRefundNo('2026112622001400001', 7))).toBe(7);
    expect(refundSequenceOf(undefined)).toBe(0);
  });
});
