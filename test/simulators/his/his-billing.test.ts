import express from 'express';
import * as soap from 'soap';
import request from 'supertest';
import { HisPeer, hisPeer } from '../../../simulators/his/his-peer';

type Hip = (action: string, message: string) => Promise<string>;
interface Order { id: string; chargeId: string; price: string; chargeStatus: string; name: string }

const line = (o: Order, amount = o.price) => `<item><orderId>${o.id}</orderId><chargeId>${o.chargeId}</chargeId><amount>${amount}</amount></item>`;
const charge = (outTradeNo: string, amount: string, items: string, patientId = 'P000100002') => `<?xml version="1.0" encoding="UTF-8"?>
<OutpatientChargeRequest version="1"><messageId>m-${outTradeNo}</messageId><sender>LINGSHU</sender><patientId root="2.16.156.10011.2.5.1.4">${patientId}</patientId>
<outTradeNo>${outTradeNo}</outTradeNo><transactionId>42000028712026112600${outTradeNo.slice(-4)}</transactionId><channel>wechatpay</channel><amount>${amount}</amount><items>${items}</items></OutpatientChargeRequest>`;
const refund = (outTradeNo: string, outRefundNo: string, amount: string, items: string) => `<?xml version="1.0" encoding="UTF-8"?>
<OutpatientRefundRequest version="1"><messageId>m-${outRefundNo}</messageId><sender>LINGSHU</sender><patientId root="2.16.156.10011.2.5.1.4">P000100002</patientId>
<outTradeNo>${outTradeNo}</outTradeNo><outRefundNo>${outRefundNo}</outRefundNo><amount>${amount}</amount><reason>医生停药</reason><items>${items}</items></OutpatientRefundRequest>`;
const receiptOf = (answer: string) => /<code code="([^"]+)" codeSystem="2\.16\.156\.10011\.2\.5\.1\.96"/.exec(answer)?.[1];
const reasonOf = (answer: string) => /<text value="([^"]*)"/.exec(answer)?.[1];

describe('HIS simulator 门诊收费 / 门诊退费', () => {
  let his: HisPeer;
  let control: express.Express;
  let call: Hip;
  const drugs = async (): Promise<Order[]> => (await request(control).get('/_sim/his/orders').query({ patientId: 'P000100002' })).body;

  beforeAll(async () => {
    his = hisPeer();
    await his.start();
    control = express().use('/_sim/his', his.control());
    const client = (await soap.createClientAsync(`${his.url}?wsdl`)) as unknown as { HIPMessageServerAsync(a: object): Promise<[{ HIPMessageServerResult: string }]> };
    call = async (action, message) => (await client.HIPMessageServerAsync({ action, message }))[0].HIPMessageServerResult;
  });
  afterAll(async () => his?.stop());

  it('refuses a 收费 for an order it does not have, saying which', async () => {
    const [metformin] = await drugs();
    const answer = await call('OutpatientCharge', charge('LS0001', '28.50', line({ ...metformin, id: 'O999', chargeId: 'SF999' })));
    expect(answer).toContain('<acknowledgement typeCode="AE">');
    expect(reasonOf(answer)).toBe('医嘱 SF999 不存在');
  });

  it('refuses a 收费 whose line amount is not the HIS price, and charges nothing', async () => {
    const [metformin] = await drugs();
    const answer = await call('OutpatientCharge', charge('LS0002', '20.00', line(metformin, '20.00')));
    expect(reasonOf(answer)).toBe(`医嘱 ${metformin.chargeId} 金额不符: 应为 28.50 元，收到 20.00 元`);
    expect((await drugs())[0].chargeStatus).toBe('unpaid');
  });

  it('refuses a 收费 whose total is not the sum of its lines', async () => {
    const [metformin, statin] = await drugs();
    expect(reasonOf(await call('OutpatientCharge', charge('LS0003', '90.00', line(metformin) + line(statin))))).toBe('总金额不符: 明细合计 95.10 元，收到 90.00 元');
  });

  it('books a 收费 with a 收据号, marks the orders paid, and answers a resend with the same 收据号', async () => {
    const [metformin, statin] = await drugs();
    const first = await call('OutpatientCharge', charge('LS0004', '95.10', line(metformin) + line(statin)));
    expect(first).toContain('<acknowledgement typeCode="AA">');
    const receiptNo = receiptOf(first);
    expect(receiptNo).toMatch(/^SJ\d{8}\d{5}$/);
    expect((await drugs()).map((o) => o.chargeStatus)).toEqual(['paid', 'paid']);
    expect(receiptOf(await call('OutpatientCharge', charge('LS0004', '95.10', line(metformin) + line(statin))))).toBe(receiptNo);
    expect((await request(control).get('/_sim/his/receipts')).body.filter((r: { kind: string }) => r.kind === 'charge')).toHaveLength(1);
  });

  it('refuses to charge an order already paid under another out_trade_no', async () => {
    const [metformin] = await drugs();
    expect(reasonOf(await call('OutpatientCharge', charge('LS0005', '28.50', line(metformin))))).toBe(`医嘱 ${metformin.chargeId} 已收费，不能收费`);
  });

  it('books a 退费 once per out_refund_no and marks the order refunded', async () => {
    const [, statin] = await drugs();
    const first = await call('OutpatientRefund', refund('LS0004', 'LSR0001', '66.60', line(statin)));
    expect(first).toContain('<acknowledgement typeCode="AA">');
    expect((await drugs()).map((o) => o.chargeStatus)).toEqual(['paid', 'refunded']);
    expect(receiptOf(await call('OutpatientRefund', refund('LS0004', 'LSR0001', '66.60', line(statin))))).toBe(receiptOf(first));
    expect(reasonOf(await call('OutpatientRefund', refund('LS0004', 'LSR0002', '66.60', line(statin))))).toBe(`医嘱 ${statin.chargeId} 已退费，不能退费`);
  });

  it('keeps what it received with the amount, for a test or an operator to look at', async () => {
    const received = (await request(control).get('/_sim/his/received')).body as { action: string; outcome: string; billing?: { outTradeNo: string; amount: string } }[];
    expect(received).toContainEqual(expect.objectContaining({ action: 'OutpatientCharge', outcome: 'AA', billing: expect.objectContaining({ outTradeNo: 'LS0004', amount: '95.10' }) }));
    expect(received).toContainEqual(expect.objectContaining({ action: 'OutpatientRefund', outcome: 'AA', billing: expect.objectContaining({ outRefundNo: 'LSR0001', amount: '66.60' }) }));
  });
});
