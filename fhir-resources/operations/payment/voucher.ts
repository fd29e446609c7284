import type { DocumentReference, Invoice } from '@medplum/fhirtypes';
import { VOUCHER_TYPE } from '../../billing/billing-vocabulary';
import { yuanText } from '../../billing/money';

/**
 * The payment voucher (缴费凭据) a patient shows at the pharmacy or exam desk: a DocumentReference about the Invoice
 * whose attachment is the QR content — the out_trade_no and the pickup code, which the window scans and redeems.
 */
export function voucherOf(invoice: Invoice, outTradeNo: string, pickupCode: string, totalFen: number, paidAt: string): DocumentReference {
  const qr = `LINGSHU-PAY:${outTradeNo}:${pickupCode}`;
  return {
    resourceType: 'DocumentReference',
    status: 'current',
    type: { coding: [{ ...VOUCHER_TYPE }], text: VOUCHER_TYPE.display },
    subject: invoice.subject,
    date: paidAt,
    description: `缴费凭据：实付 ${yuanText(totalFen)} 元，取药码 ${pickupCode}`,
    identifier: [{ value: pickupCode }],
    context: { related: [{ reference: `Invoice/${invoice.id}` }] },
    content: [{
      attachment: { contentType: 'text/plain', data: Buffer.from(qr, 'utf8').toString('base64'), title: `取药码 ${pickupCode}` },
      format: { code: 'qr-content', display: '二维码内容' },
    }],
  };
}
