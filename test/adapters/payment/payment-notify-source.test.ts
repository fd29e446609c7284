import { PassThrough } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { AlipayGateway } from '../../../adapters/payment/alipay-gateway';
import type { PaymentNotification } from '../../../adapters/payment/payment-gateway';
import { paymentNotifySource } from '../../../adapters/payment/payment-notify-source';
import { WechatPayGateway, WechatPayConfig } from '../../../adapters/payment/wechatpay-gateway';
import { channel } from '../../../engine/channel/channel';
import { createLogger } from '../../../engine/logger';
import { AlipayPeer, alipayPeer } from '../../../simulators/alipay/alipay-peer';
import { NOTIFY_TAMPERS as ALIPAY_TAMPERS } from '../../../simulators/alipay/alipay-notify';
import { WechatPayPeer, wechatPayPeer } from '../../../simulators/wechatpay/wechatpay-peer';
import { NOTIFY_TAMPERS as WECHAT_TAMPERS } from '../../../simulators/wechatpay/wechatpay-notify';
import { STACKS, startTestServer, TestServer } from '../../support/engine-server';

interface LogLine { msg: string; channel: string; reason?: string; detail?: string }

/** What each spoiled notification must be refused for: the signature by the gateway, the rest by the channel's check. */
const EXPECTED: Record<string, { reason: string; detail?: RegExp }> = {
  signature: { reason: 'signature' },
  amount: { reason: 'check', detail: /wrong amount/ },
  'unknown-order': { reason: 'check', detail: /unknown order/ },
};

describe('payment notify source', () => {
  let wechat: WechatPayPeer;
  let alipay: AlipayPeer;
  let server: TestServer;
  const gateways: { close(): Promise<void> }[] = [];
  let wechatGateway: WechatPayGateway;
  let alipayGateway: AlipayGateway;
  const lines: LogLine[] = [];
  /** What the channel knows: out_trade_no / out_refund_no → amount in 分. */
  const orders = new Map<string, number>();
  const refunds = new Map<string, number>();
  const hanging: (() => void)[] = [];
  let n = 0;
  const no = (prefix: string) => `${prefix}${Date.now()}${++n}`;

  async function check(x: PaymentNotification): Promise<string | undefined> {
    if (x.kind === 'payment') {
      if (x.trade.outTradeNo.startsWith('HANG')) {
        await new Promise<void>((resolve) => hanging.push(resolve));
        return 'released after the test';
      }
      const expected = orders.get(x.trade.outTradeNo);
      if (expected === undefined) return 'unknown order';
      return expected === x.trade.amountFen ? undefined : `wrong amount ${x.trade.amountFen} 分, ordered ${expected} 分`;
    }
    const expected = refunds.get(x.refund.outRefundNo);
    if (expected === undefined || !orders.has(x.refund.outTradeNo)) return 'unknown order';
    return expected === x.refund.refundFen ? undefined : `wrong amount ${x.refund.refundFen} 分, refunded ${expected} 分`;
  }

  beforeAll(async () => {
    wechat = wechatPayPeer();
    alipay = alipayPeer();
    await Promise.all([wechat.start(), alipay.start()]);
    const k = wechat.keys;
    const wechatConfig: WechatPayConfig = {
      baseUrl: wechat.url, mchid: k.mchid, appid: k.appid, merchantSerial: k.merchant.serial, merchantPrivateKey: { value: k.merchant.privateKeyPem! },
      platformSerial: k.platform.serial, platformPublicKey: { value: k.platform.publicKeyPem }, apiV3Key: { value: k.apiV3Key },
    };
    wechatGateway = new WechatPayGateway(wechatConfig);
    const otherApp = new WechatPayGateway({ ...wechatConfig, appid: 'wx0000000000000000' });
    alipayGateway = new AlipayGateway({
      gatewayUrl: `${alipay.url}/gateway.do`, appId: alipay.keys.appId, pid: alipay.keys.pid,
      appPrivateKey: { value: alipay.keys.app.privateKeyPem! }, alipayPublicKey: { value: alipay.keys.alipay.publicKeyPem },
    });
    gateways.push(wechatGateway, otherApp, alipayGateway);
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine)));
    const logger = createLogger({ stream, level: 'info' });
    const sink = [{ name: 'sink', connector: { type: 'sink', send: async () => ({}) } }];
    server = await startTestServer(STACKS[0], () => [
      channel({ id: 'wechatpay', source: paymentNotifySource({ gateway: wechatGateway, check, logger, answerWithinMs: 1000 }), destinations: sink }),
      channel({ id: 'wechatpay-other', source: paymentNotifySource({ gateway: otherApp, check, logger }), destinations: sink }),
      channel({ id: 'alipay', source: paymentNotifySource({ gateway: alipayGateway, check, logger }), destinations: sink }),
    ]);
  });
  afterAll(async () => {
    hanging.forEach((resolve) => resolve());
    await server?.cleanup();
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all([wechat?.stop(), alipay?.stop()]);
  });

  const notifyUrl = (channelId: string) => `${server.base}/channels/${channelId}/notify`;

  async function stored(channelId: string, correlationId?: string): Promise<{ id: string; correlationId: string }[]> {
    const q = new URLSearchParams({ channel: channelId, limit: '500', ...(correlationId ? { correlationId } : {}) });
    return (await request(server.base).get(`/api/messages?${q}`).expect(200)).body.messages;
  }

  async function content(id: string): Promise<unknown> {
    return JSON.parse((await request(server.base).get(`/api/messages/${id}`).expect(200)).body.raw);
  }

  async function wechatOrder(outTradeNo: string, amountFen: number, channelId = 'wechatpay'): Promise<void> {
    await wechatGateway.createOrder({ outTradeNo, description: '桃源院区 处方缴费', amountFen, notifyUrl: notifyUrl(channelId), scene: 'jsapi', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    orders.set(outTradeNo, amountFen);
  }

  async function alipayTrade(outTradeNo: string, amountFen: number): Promise<void> {
    await alipayGateway.createOrder({ outTradeNo, description: '北院院区 检验缴费', amountFen, notifyUrl: notifyUrl('alipay'), scene: 'jsapi', payer: { alipayUserId: '2088102177846880' } });
    orders.set(outTradeNo, amountFen);
  }

  const refusedLines = (channelId: string) => lines.filter((l) => l.channel === channelId && l.msg === 'payment notification refused');

  it('stores each delivery of a WeChat payment as its notification, correlated by out_trade_no, and answers 204', async () => {
    const outTradeNo = no('W');
    await wechatOrder(outTradeNo, 2050);
    const paid = await wechat.pay(outTradeNo, 2);
    expect(paid!.deliveries.map((d) => d.status)).toEqual([204, 204]);
    const messages = await stored('wechatpay', outTradeNo);
    expect(messages).toHaveLength(2);
    expect(await content(messages[0].id)).toMatchObject({ kind: 'payment', trade: { outTradeNo, state: 'SUCCESS', amountFen: 2050, merchantId: wechat.keys.mchid } });
  });

  it('stores a WeChat refund notification correlated by out_refund_no', async () => {
    const outTradeNo = no('WR');
    await wechatOrder(outTradeNo, 900);
    await wechat.pay(outTradeNo, 0);
    const outRefundNo = no('WRF');
    refunds.set(outRefundNo, 400);
    await wechatGateway.refund({ outTradeNo, outRefundNo, refundFen: 400, totalFen: 900, notifyUrl: notifyUrl('wechatpay') });
    const settled = await wechat.settleRefund(outRefundNo, 'SUCCESS', 1);
    expect(settled!.deliveries[0].status).toBe(204);
    const [message] = await stored('wechatpay', outRefundNo);
    expect(await content(message.id)).toMatchObject({ kind: 'refund', refund: { outRefundNo, outTradeNo, state: 'SUCCESS', refundFen: 400 } });
  });

  it.each(WECHAT_TAMPERS)('refuses a WeChat notification spoiled by %s with its reason, a 5xx and nothing stored', async (tamper) => {
    const outTradeNo = no(`WT${tamper.length}`);
    await wechatOrder(outTradeNo, 1500);
    const before = (await stored('wechatpay')).length;
    const logged = refusedLines('wechatpay').length;
    const paid = await wechat.pay(outTradeNo, 1, tamper);
    const delivery = paid!.deliveries[0];
    expect(delivery.status).toBeGreaterThanOrEqual(500);
    expect(JSON.parse(delivery.answer!)).toMatchObject({ code: 'FAIL' });
    expect((await stored('wechatpay')).length).toBe(before);
    const line = refusedLines('wechatpay').slice(logged)[0];
    expect(line).toMatchObject({ reason: EXPECTED[tamper].reason });
    if (EXPECTED[tamper].detail) expect(line.detail).toMatch(EXPECTED[tamper].detail!);
  });

  it('stores an Alipay payment notification and answers success', async () => {
    const outTradeNo = no('A');
    await alipayTrade(outTradeNo, 8880);
    const paid = await alipay.pay(outTradeNo, 1);
    expect(paid!.deliveries[0]).toMatchObject({ answer: 'success', acknowledged: true });
    const [message] = await stored('alipay', outTradeNo);
    expect(await content(message.id)).toMatchObject({ kind: 'payment', trade: { outTradeNo, state: 'SUCCESS', amountFen: 8880, merchantId: alipay.keys.pid, appId: alipay.keys.appId } });
  });

  it('stores the notification of an Alipay refund paid out later, correlated by out_request_no', async () => {
    const outTradeNo = no('AR');
    await alipayTrade(outTradeNo, 3000);
    await alipay.pay(outTradeNo, 0);
    await request(express().use(alipay.control())).post('/refunds/defer?times=1').expect(200);
    const outRefundNo = no('ARF');
    refunds.set(outRefundNo, 3000);
    expect((await alipayGateway.refund({ outTradeNo, outRefundNo, refundFen: 3000, totalFen: 3000 })).state).toBe('PROCESSING');
    const done = await alipay.completeRefund(outRefundNo, 1);
    expect(done!.deliveries[0].acknowledged).toBe(true);
    const [message] = await stored('alipay', outRefundNo);
    expect(await content(message.id)).toMatchObject({ kind: 'refund', refund: { outRefundNo, outTradeNo, state: 'SUCCESS', refundFen: 3000 } });
  });

  it.each(ALIPAY_TAMPERS)('refuses an Alipay notification spoiled by %s with its reason, fail and nothing stored', async (tamper) => {
    const outTradeNo = no(`AT${tamper.length}`);
    await alipayTrade(outTradeNo, 1200);
    const before = (await stored('alipay')).length;
    const logged = refusedLines('alipay').length;
    const paid = await alipay.pay(outTradeNo, 1, tamper);
    expect(paid!.deliveries[0]).toMatchObject({ answer: 'fail', acknowledged: false });
    expect((await stored('alipay')).length).toBe(before);
    const line = refusedLines('alipay').slice(logged)[0];
    expect(line).toMatchObject({ reason: EXPECTED[tamper].reason });
    if (EXPECTED[tamper].detail) expect(line.detail).toMatch(EXPECTED[tamper].detail!);
  });

  it('refuses a genuine notification for another app of the merchant', async () => {
    const outTradeNo = no('WO');
    await wechatOrder(outTradeNo, 100, 'wechatpay-other');
    const paid = await wechat.pay(outTradeNo, 1);
    expect(paid!.deliveries[0].status).toBeGreaterThanOrEqual(500);
    expect(refusedLines('wechatpay-other').pop()).toMatchObject({ reason: 'app', detail: expect.stringContaining(wechat.keys.appid) });
    expect(await stored('wechatpay-other')).toHaveLength(0);
  });

  it('answers a failure in time when the check does not finish, and stores nothing', async () => {
    const outTradeNo = no('HANG');
    await wechatOrder(outTradeNo, 300);
    const paid = await wechat.pay(outTradeNo, 1);
    expect(paid!.deliveries[0].status).toBeGreaterThanOrEqual(500);
    expect(lines.filter((l) => l.msg === 'payment notification not taken').pop()).toMatchObject({ reason: 'late' });
    expect(await stored('wechatpay', outTradeNo)).toHaveLength(0);
  });

  it('answers 503 while the channel is paused so the gateway delivers again', async () => {
    const outTradeNo = no('WP');
    await wechatOrder(outTradeNo, 100);
    await request(server.base).post('/api/channels/wechatpay/pause').expect(200);
    try {
      const paid = await wechat.pay(outTradeNo, 1);
      expect(paid!.deliveries[0].status).toBe(503);
      expect(await stored('wechatpay', outTradeNo)).toHaveLength(0);
    } finally {
      await request(server.base).post('/api/channels/wechatpay/resume').expect(200);
    }
    const again = await wechat.pay(outTradeNo, 1);
    expect(again!.deliveries[0].status).toBe(204);
    expect(await stored('wechatpay', outTradeNo)).toHaveLength(1);
  });
});
