import crypto from 'node:crypto';
import { WechatPayConfig, WechatPayGateway } from '../../../adapters/payment/wechatpay-gateway';
import { NotificationRefused, PaymentGatewayError } from '../../../adapters/payment/payment-gateway';
import { PaymentTransportError } from '../../../adapters/payment/payment-http';
import { signedMessage } from '../../../adapters/payment/wechatpay-signing';
import { WechatPayPeer, wechatPayPeer } from '../../../simulators/wechatpay/wechatpay-peer';
import { NotificationCatcher } from './notification-catcher';

/** The error `parse` throws; fails the test when it throws none. */
function refusal(parse: () => unknown): NotificationRefused {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(NotificationRefused);
    return err as NotificationRefused;
  }
  throw new Error('the notification was not refused');
}

describe('WeChat Pay APIv3 gateway against the WeChat Pay simulator', () => {
  let peer: WechatPayPeer;
  let gateway: WechatPayGateway;
  let options: WechatPayConfig;
  const catcher = new NotificationCatcher();
  let n = 0;
  const no = (prefix: string) => `${prefix}${Date.now()}${++n}`;

  beforeAll(async () => {
    peer = wechatPayPeer();
    await peer.start();
    await catcher.listen();
    const k = peer.keys;
    options = {
      baseUrl: peer.url, mchid: k.mchid, appid: k.appid,
      merchantSerial: k.merchant.serial, merchantPrivateKey: { value: k.merchant.privateKeyPem! },
      platformSerial: k.platform.serial, platformPublicKey: { value: k.platform.publicKeyPem },
      // Generous, so a call answered late on a loaded CI machine is not taken for a timeout; the timeout test has its own.
      apiV3Key: { value: k.apiV3Key }, timeoutMs: 5000,
    };
    gateway = new WechatPayGateway(options);
  });
  afterAll(async () => {
    await gateway?.close();
    await peer?.stop();
    await catcher.close();
  });

  const jsapiOrder = (outTradeNo: string, amountFen = 2050, notifyUrl = catcher.url) => gateway.createOrder({
    outTradeNo, description: '桃源院区 处方缴费', amountFen, notifyUrl, scene: 'jsapi', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  });

  it('creates a JSAPI order whose client parameters are signed with the merchant key', async () => {
    const outTradeNo = no('JS');
    const { clientParameters: p } = await jsapiOrder(outTradeNo);
    expect(p).toMatchObject({ appId: peer.keys.appid, signType: 'RSA', package: `prepay_id=${peer.state.orders.get(outTradeNo)!.prepayId}` });
    const message = signedMessage(p.appId, p.timeStamp, p.nonceStr, p.package);
    expect(crypto.verify('sha256', Buffer.from(message), peer.keys.merchant.publicKey, Buffer.from(p.paySign, 'base64'))).toBe(true);
  });

  it('creates an H5 order and hands back the h5Url', async () => {
    const order = await gateway.createOrder({
      outTradeNo: no('H5'), description: '星湖门诊 检查缴费', amountFen: 100, notifyUrl: catcher.url, scene: 'h5', payer: { clientIp: '203.0.113.9' },
    });
    expect(order.clientParameters.h5Url).toMatch(/^https:\/\/wx\.tenpay\.com\/.*prepay_id=wx/);
  });

  it('queries an unpaid order as NOTPAY and a paid one as SUCCESS with its transaction id, amount and payer', async () => {
    const outTradeNo = no('Q');
    await jsapiOrder(outTradeNo, 3300);
    expect(await gateway.queryOrder(outTradeNo)).toMatchObject({ outTradeNo, state: 'NOTPAY', amountFen: 3300, transactionId: undefined });
    await peer.pay(outTradeNo, 0);
    expect(await gateway.queryOrder(outTradeNo)).toMatchObject({
      outTradeNo, state: 'SUCCESS', amountFen: 3300, transactionId: peer.state.orders.get(outTradeNo)!.transactionId,
      merchantId: peer.keys.mchid, appId: peer.keys.appid, payerId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', paidAt: expect.stringMatching(/\+08:00$/),
    });
  });

  it('answers an order the gateway does not know as NOTPAY without a transaction id', async () => {
    expect(await gateway.queryOrder(no('NEVER'))).toEqual({ outTradeNo: expect.stringMatching(/^NEVER/), state: 'NOTPAY' });
  });

  it('closes an unpaid order', async () => {
    const outTradeNo = no('C');
    await jsapiOrder(outTradeNo);
    await gateway.closeOrder(outTradeNo);
    expect((await gateway.queryOrder(outTradeNo)).state).toBe('CLOSED');
  });

  it('reports the gateway refusal with its code when a paid order is closed', async () => {
    const outTradeNo = no('CP');
    await jsapiOrder(outTradeNo);
    await peer.pay(outTradeNo, 0);
    const err = await gateway.closeOrder(outTradeNo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaymentGatewayError);
    expect(err).toMatchObject({ channel: 'wechatpay', status: 400, code: 'ORDERPAID' });
  });

  it('refunds once per out_refund_no: the same refund sent again returns the refund already made', async () => {
    const outTradeNo = no('R');
    await jsapiOrder(outTradeNo, 5000);
    await peer.pay(outTradeNo, 0);
    const request = { outTradeNo, outRefundNo: no('RF'), refundFen: 2000, totalFen: 5000, reason: '患者退药' };
    const first = await gateway.refund(request);
    expect(first).toMatchObject({ outRefundNo: request.outRefundNo, outTradeNo, state: 'PROCESSING', refundFen: 2000, refundId: expect.stringMatching(/^503/) });
    expect(await gateway.refund(request)).toEqual(first);
    expect(peer.state.refundable(peer.state.orders.get(outTradeNo)!)).toBe(3000);
  });

  it('queries a refund and sees it succeed once the gateway settles it', async () => {
    const outTradeNo = no('RQ');
    await jsapiOrder(outTradeNo, 800);
    await peer.pay(outTradeNo, 0);
    const outRefundNo = no('RQF');
    await gateway.refund({ outTradeNo, outRefundNo, refundFen: 800, totalFen: 800 });
    expect((await gateway.queryRefund(outRefundNo, outTradeNo)).state).toBe('PROCESSING');
    await peer.settleRefund(outRefundNo, 'SUCCESS', 0);
    expect(await gateway.queryRefund(outRefundNo, outTradeNo)).toMatchObject({ state: 'SUCCESS', refundFen: 800, successAt: expect.stringMatching(/\+08:00$/) });
  });

  it('refuses an answer whose signature does not verify with the platform key', async () => {
    peer.fail('bad-signature', 1);
    const err = await gateway.queryOrder(no('BS')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PaymentTransportError);
    expect(err).toMatchObject({ kind: 'signature', message: expect.stringContaining('Wechatpay-Signature does not verify with the platform key') });
  });

  it('refuses a signed answer that is not JSON', async () => {
    const outTradeNo = no('M');
    await jsapiOrder(outTradeNo);
    peer.fail('malformed', 1);
    await expect(gateway.queryOrder(outTradeNo)).rejects.toMatchObject({ kind: 'malformed', message: expect.stringContaining('answer is not JSON') });
  });

  it('reports a 500 as a server error, not as a refusal', async () => {
    peer.fail('500', 1);
    await expect(gateway.queryOrder(no('E'))).rejects.toMatchObject({ kind: 'server-error', message: expect.stringContaining('HTTP 500') });
  });

  it('gives up on a gateway that does not answer within the timeout', async () => {
    const impatient = new WechatPayGateway({ ...options, timeoutMs: 1000 });
    peer.fail('timeout', 1);
    await expect(impatient.queryOrder(no('T'))).rejects.toMatchObject({ kind: 'timeout', message: expect.stringContaining('no complete answer within 1000 ms') });
    await impatient.close();
  });

  it('verifies and decrypts a TRANSACTION.SUCCESS notification into a payment', async () => {
    const outTradeNo = no('N');
    await jsapiOrder(outTradeNo, 1234);
    await peer.pay(outTradeNo, 1);
    const parsed = gateway.parseNotification(catcher.take());
    expect(parsed).toEqual({
      kind: 'payment', notificationId: expect.any(String),
      trade: expect.objectContaining({ outTradeNo, state: 'SUCCESS', amountFen: 1234, transactionId: peer.state.orders.get(outTradeNo)!.transactionId, merchantId: peer.keys.mchid, appId: peer.keys.appid }),
    });
  });

  it('verifies and decrypts a REFUND.SUCCESS notification into a refund', async () => {
    const outTradeNo = no('NR');
    await jsapiOrder(outTradeNo, 900);
    await peer.pay(outTradeNo, 0);
    const outRefundNo = no('NRF');
    await gateway.refund({ outTradeNo, outRefundNo, refundFen: 300, totalFen: 900, notifyUrl: catcher.url });
    await peer.settleRefund(outRefundNo, 'SUCCESS', 1);
    expect(gateway.parseNotification(catcher.take())).toEqual({
      kind: 'refund', notificationId: expect.any(String),
      refund: expect.objectContaining({ outRefundNo, outTradeNo, state: 'SUCCESS', refundFen: 300 }),
    });
  });

  it('refuses a notification whose signature was forged', async () => {
    const outTradeNo = no('NF');
    await jsapiOrder(outTradeNo);
    await peer.pay(outTradeNo, 1, 'signature');
    expect(refusal(() => gateway.parseNotification(catcher.take())).reason).toBe('signature');
  });

  /** A notification signed by the real platform key, but with a timestamp of our choosing. */
  function resigned(body: Buffer, timestamp: number): Record<string, string> {
    const nonce = crypto.randomBytes(8).toString('hex');
    const signature = crypto.sign('sha256', Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), body, Buffer.from('\n')]), peer.keys.platform.privateKey).toString('base64');
    return { 'wechatpay-timestamp': String(timestamp), 'wechatpay-nonce': nonce, 'wechatpay-signature': signature, 'wechatpay-serial': peer.keys.platform.serial };
  }

  it('refuses a genuine notification signed more than 5 minutes ago', async () => {
    const outTradeNo = no('NT');
    await jsapiOrder(outTradeNo);
    await peer.pay(outTradeNo, 1);
    const { body } = catcher.take();
    const headers = resigned(body, Math.floor(Date.now() / 1000) - 301);
    expect(refusal(() => gateway.parseNotification({ headers, body })).reason).toBe('timestamp');
    expect(gateway.parseNotification({ headers: resigned(body, Math.floor(Date.now() / 1000) - 200), body }).kind).toBe('payment');
  });

  it('refuses a signed notification whose resource does not decrypt with the APIv3 key', async () => {
    const outTradeNo = no('ND');
    await jsapiOrder(outTradeNo);
    await peer.pay(outTradeNo, 1);
    const notice = JSON.parse(catcher.take().body.toString('utf8'));
    const data = Buffer.from(notice.resource.ciphertext, 'base64');
    data[0] ^= 1;
    notice.resource.ciphertext = data.toString('base64');
    const body = Buffer.from(JSON.stringify(notice));
    expect(refusal(() => gateway.parseNotification({ headers: resigned(body, Math.floor(Date.now() / 1000)), body })).reason).toBe('decrypt');
  });

  it('answers a notification with 204 when taken and with a FAIL body and 5xx when not', () => {
    expect(gateway.notificationAnswer(true)).toEqual({ status: 204, contentType: 'application/json', body: '' });
    const failed = gateway.notificationAnswer(false, 'unknown order');
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(JSON.parse(failed.body)).toEqual({ code: 'FAIL', message: 'unknown order' });
  });
});
