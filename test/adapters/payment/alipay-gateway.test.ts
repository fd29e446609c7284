import crypto from 'node:crypto';
import express from 'express';
import iconv from 'iconv-lite';
import request from 'supertest';
import { AlipayGateway, AlipayConfig } from '../../../adapters/payment/alipay-gateway';
import { NotificationRefused, PaymentGatewayError } from '../../../adapters/payment/payment-gateway';
import { PaymentTransportError } from '../../../adapters/payment/payment-http';
import { AlipayPeer, alipayPeer } from '../../../simulators/alipay/alipay-peer';
import { NotificationCatcher } from './notification-catcher';

function refusal(parse: () => unknown): NotificationRefused {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(NotificationRefused);
    return err as NotificationRefused;
  }
  throw new Error('the notification was not refused');
}

/** Alipay's RSA2 string, written here from formats.md 2.2 rather than taken from the code under test. */
const rsa2String = (p: Record<string, string>, exclude: string[]) => Object.keys(p).filter((k) => !exclude.includes(k) && p[k] !== '').sort().map((k) => `${k}=${p[k]}`).join('&');

describe('Alipay gateway against the Alipay simulator', () => {
  let peer: AlipayPeer;
  let gateway: AlipayGateway;
  let config: AlipayConfig;
  const catcher = new NotificationCatcher();
  let n = 0;
  const no = (prefix: string) => `${prefix}${Date.now()}${++n}`;

  beforeAll(async () => {
    peer = alipayPeer();
    await peer.start();
    await catcher.listen();
    config = {
      gatewayUrl: `${peer.url}/gateway.do`, appId: peer.keys.appId, pid: peer.keys.pid,
      appPrivateKey: { value: peer.keys.app.privateKeyPem! }, alipayPublicKey: { value: peer.keys.alipay.publicKeyPem },
      // Generous, so a call answered late on a loaded CI machine is not taken for a timeout; the timeout test has its own.
      timeoutMs: 5000,
    };
    gateway = new AlipayGateway(config);
  });
  afterAll(async () => {
    await gateway?.close();
    await peer?.stop();
    await catcher.close();
  });

  const trade = (outTradeNo: string, amountFen = 2050, scene: 'jsapi' | 'app' | 'wap' = 'jsapi') => gateway.createOrder({
    outTradeNo, description: '北院院区 处方缴费', amountFen, notifyUrl: catcher.url, scene, payer: { alipayUserId: '2088102177846880' },
  });

  it('creates a trade with the amount in 元 and hands back the trade number for my.tradePay', async () => {
    const outTradeNo = no('AJ');
    const created = await trade(outTradeNo, 2050);
    const kept = peer.state.trades.get(outTradeNo)!;
    expect(kept.total).toBe(2050);
    expect(created.clientParameters).toEqual({ tradeNo: kept.tradeNo });
  });

  it('gives an app trade the orderString the app SDK takes, signed with the app key', async () => {
    const { clientParameters: p } = await trade(no('AA'), 1, 'app');
    const params = Object.fromEntries(new URLSearchParams(p.orderString));
    expect(params).toMatchObject({ method: 'alipay.trade.app.pay', app_id: peer.keys.appId, sign_type: 'RSA2', notify_url: catcher.url });
    expect(JSON.parse(params.biz_content)).toMatchObject({ total_amount: '0.01', product_code: 'QUICK_MSECURITY_PAY' });
    expect(crypto.verify('sha256', Buffer.from(rsa2String(params, ['sign'])), peer.keys.app.publicKey, Buffer.from(params.sign, 'base64'))).toBe(true);
  });

  it('gives a wap trade the gateway URL to send the browser to', async () => {
    const { clientParameters: p } = await trade(no('AW'), 990, 'wap');
    expect(p.payUrl).toBe(`${peer.url}/gateway.do?${p.orderString}`);
    expect(new URLSearchParams(p.orderString).get('method')).toBe('alipay.trade.wap.pay');
  });

  it('queries a waiting trade as NOTPAY and a paid one as SUCCESS with the 支付宝交易号 and amount in 分', async () => {
    const outTradeNo = no('AQ');
    await trade(outTradeNo, 12345);
    expect(await gateway.queryOrder(outTradeNo)).toMatchObject({ state: 'NOTPAY', amountFen: 12345 });
    await peer.pay(outTradeNo, 0);
    expect(await gateway.queryOrder(outTradeNo)).toMatchObject({
      outTradeNo, state: 'SUCCESS', amountFen: 12345, transactionId: peer.state.trades.get(outTradeNo)!.tradeNo, paidAt: expect.stringMatching(/\+08:00$/),
    });
  });

  it('answers a trade Alipay does not know as NOTPAY', async () => {
    const outTradeNo = no('ANX');
    expect(await gateway.queryOrder(outTradeNo)).toEqual({ outTradeNo, state: 'NOTPAY' });
  });

  it('closes a waiting trade', async () => {
    const outTradeNo = no('AC');
    await trade(outTradeNo);
    await gateway.closeOrder(outTradeNo);
    expect((await gateway.queryOrder(outTradeNo)).state).toBe('CLOSED');
  });

  it('refunds at once when the money moves, and a repeat of the same out_request_no refunds nothing more', async () => {
    const outTradeNo = no('AR');
    await trade(outTradeNo, 5000);
    await peer.pay(outTradeNo, 0);
    const r = { outTradeNo, outRefundNo: no('ARF'), refundFen: 1999, totalFen: 5000, reason: '患者退药' };
    expect(await gateway.refund(r)).toMatchObject({ outRefundNo: r.outRefundNo, state: 'SUCCESS', refundFen: 1999 });
    expect(await gateway.refund(r)).toMatchObject({ outRefundNo: r.outRefundNo, state: 'SUCCESS', refundFen: 1999 });
    expect(peer.state.refunded(peer.state.trades.get(outTradeNo)!)).toBe(1999);
    expect(await gateway.queryRefund(r.outRefundNo, outTradeNo)).toMatchObject({ state: 'SUCCESS', refundFen: 1999, successAt: expect.stringMatching(/\+08:00$/) });
  });

  it('reads a trade refunded in full as REFUND, not as never paid', async () => {
    const outTradeNo = no('ARA');
    await trade(outTradeNo, 700);
    await peer.pay(outTradeNo, 0);
    await gateway.refund({ outTradeNo, outRefundNo: no('ARAF'), refundFen: 700, totalFen: 700 });
    expect((await gateway.queryOrder(outTradeNo)).state).toBe('REFUND');
  });

  it('reports a deferred refund as PROCESSING until Alipay pays it out and notifies', async () => {
    const outTradeNo = no('AD');
    await trade(outTradeNo, 3000);
    await peer.pay(outTradeNo, 0);
    await request(express().use(peer.control())).post('/refunds/defer?times=1').expect(200);
    const outRefundNo = no('ADF');
    expect(await gateway.refund({ outTradeNo, outRefundNo, refundFen: 1000, totalFen: 3000 })).toMatchObject({ state: 'PROCESSING', refundFen: 1000 });
    expect((await gateway.queryRefund(outRefundNo, outTradeNo)).state).toBe('PROCESSING');
    catcher.received.length = 0;
    await peer.completeRefund(outRefundNo, 1);
    expect(gateway.parseNotification(catcher.take())).toEqual({
      kind: 'refund', notificationId: expect.any(String),
      refund: { outRefundNo, outTradeNo, state: 'SUCCESS', refundFen: 1000, successAt: expect.stringMatching(/\+08:00$/) },
    });
    expect(await gateway.queryRefund(outRefundNo, outTradeNo)).toMatchObject({ state: 'SUCCESS', refundFen: 1000 });
  });

  it('reports an unsigned refusal of the common parameters with its sub_code', async () => {
    const stranger = new AlipayGateway({ ...config, appId: '2021000000000000' });
    try {
      const err = await stranger.queryOrder(no('AS')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PaymentGatewayError);
      expect(err).toMatchObject({ channel: 'alipay', code: 'isv.invalid-app-id' });
    } finally {
      await stranger.close();
    }
  });

  it('refuses an answer whose sign does not verify with the Alipay public key', async () => {
    peer.fail('bad-signature', 1);
    const err = await gateway.queryOrder(no('ABS')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaymentTransportError);
    expect(err).toMatchObject({ kind: 'signature', message: expect.stringContaining('sign does not verify with the Alipay public key') });
  });

  it('refuses an answer that is not JSON', async () => {
    peer.fail('malformed', 1);
    await expect(gateway.queryOrder(no('AM'))).rejects.toMatchObject({ kind: 'malformed', message: expect.stringContaining('answer is not JSON') });
  });

  it('reports a 500 as a server error', async () => {
    peer.fail('500', 1);
    await expect(gateway.queryOrder(no('AE'))).rejects.toMatchObject({ kind: 'server-error' });
  });

  it('gives up on a gateway that does not answer within the timeout', async () => {
    const impatient = new AlipayGateway({ ...config, timeoutMs: 1000 });
    peer.fail('timeout', 1);
    await expect(impatient.queryOrder(no('AT'))).rejects.toMatchObject({ kind: 'timeout' });
    await impatient.close();
  });

  it('verifies a TRADE_SUCCESS notification and reads its amount in 分, merchant and app', async () => {
    const outTradeNo = no('AN');
    await trade(outTradeNo, 8880);
    await peer.pay(outTradeNo, 1);
    expect(gateway.parseNotification(catcher.take())).toEqual({
      kind: 'payment', notificationId: expect.any(String),
      trade: expect.objectContaining({ outTradeNo, state: 'SUCCESS', amountFen: 8880, merchantId: peer.keys.pid, appId: peer.keys.appId, transactionId: peer.state.trades.get(outTradeNo)!.tradeNo }),
    });
  });

  it('refuses a notification whose sign was forged', async () => {
    const outTradeNo = no('ANF');
    await trade(outTradeNo);
    await peer.pay(outTradeNo, 1, 'signature');
    expect(refusal(() => gateway.parseNotification(catcher.take())).reason).toBe('signature');
  });

  it('verifies a notification sent in GBK, the charset it declares', async () => {
    const outTradeNo = no('ANG');
    await trade(outTradeNo, 100);
    await peer.pay(outTradeNo, 1);
    const params = Object.fromEntries(new URLSearchParams(catcher.take().body.toString('utf8')));
    params.charset = 'gbk';
    params.sign = crypto.sign('sha256', iconv.encode(rsa2String(params, ['sign', 'sign_type']), 'gbk'), peer.keys.alipay.privateKey).toString('base64');
    const gbkForm = Object.entries(params).map(([k, v]) => `${k}=${[...iconv.encode(v, 'gbk')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`).join('&');
    const parsed = gateway.parseNotification({ headers: {}, body: Buffer.from(gbkForm), contentType: 'application/x-www-form-urlencoded' });
    expect(parsed).toMatchObject({ kind: 'payment', trade: { outTradeNo, amountFen: 100 } });
  });

  it('answers success to take a notification and fail to have it sent again', () => {
    expect(gateway.notificationAnswer(true).body).toBe('success');
    expect(gateway.notificationAnswer(false).body).toBe('fail');
  });
});
