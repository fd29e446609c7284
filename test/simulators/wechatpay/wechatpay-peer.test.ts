import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { WechatPayPeer, wechatPayPeer } from '../../../simulators/wechatpay/wechatpay-peer';

/** What the merchant side knows, read from the simulator's control API as a demo or a test would. */
interface Merchant {
  mchid: string;
  appid: string;
  apiV3Key: string;
  merchant: { serial: string; privateKey: string };
  platform: { serial: string; publicKey: string };
}

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

const line = (...parts: string[]) => parts.map((p) => `${p}\n`).join('');

describe('WeChat Pay APIv3 simulator', () => {
  let peer: WechatPayPeer;
  let control: express.Express;
  let m: Merchant;
  let receiver: http.Server;
  let notifyUrl: string;
  let received: Received[] = [];

  /** A merchant client written here from the APIv3 rules, independent of the simulator's code. */
  async function call(method: string, path: string, body?: object, tamper?: (raw: string) => string) {
    const raw = body ? JSON.stringify(body) : '';
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = crypto.randomBytes(16).toString('hex');
    const signature = crypto.sign('sha256', Buffer.from(line(method, path, timestamp, nonce, raw)), m.merchant.privateKey).toString('base64');
    const res = await fetch(`${peer.url}${path}`, {
      method,
      headers: {
        Authorization: `WECHATPAY2-SHA256-RSA2048 mchid="${m.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${m.merchant.serial}"`,
        Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? (tamper ? tamper(raw) : raw) : undefined,
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8') };
  }

  const verifiedByPlatform = (headers: { get(n: string): string | null } , body: string) => crypto.verify('sha256',
    Buffer.from(line(headers.get('wechatpay-timestamp')!, headers.get('wechatpay-nonce')!, body)),
    m.platform.publicKey, Buffer.from(headers.get('wechatpay-signature')!, 'base64'));

  function decrypt(notice: { resource: { ciphertext: string; nonce: string; associated_data: string } }) {
    const data = Buffer.from(notice.resource.ciphertext, 'base64');
    const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(m.apiV3Key), Buffer.from(notice.resource.nonce));
    decipher.setAAD(Buffer.from(notice.resource.associated_data));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return JSON.parse(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8'));
  }

  const receivedHeaders = (r: Received) => ({ get: (n: string) => String(r.headers[n.toLowerCase()] ?? '') || null });

  async function order(outTradeNo: string, total = 2350) {
    const res = await call('POST', '/v3/pay/transactions/jsapi', {
      appid: m.appid, mchid: m.mchid, description: '桃源院区-处方缴费', out_trade_no: outTradeNo, notify_url: notifyUrl,
      amount: { total, currency: 'CNY' }, payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    });
    expect(res.status).toBe(200);
    return res;
  }

  beforeAll(async () => {
    peer = wechatPayPeer();
    await peer.start();
    control = express().use('/_sim/wechatpay', peer.control());
    m = (await request(control).get('/_sim/wechatpay/').expect(200)).body;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channels/wechatpay-notify`;
  });
  beforeEach(() => {
    received = [];
  });
  afterAll(async () => {
    await peer?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('takes a JSAPI order signed with the merchant key and answers a prepay_id signed with the platform key', async () => {
    const res = await order('RX20250101001');
    expect(JSON.parse(res.text).prepay_id).toMatch(/^wx\d{14}[0-9a-f]{20}$/);
    expect(res.headers.get('wechatpay-serial')).toBe(m.platform.serial);
    expect(verifiedByPlatform(res.headers, res.text)).toBe(true);
  });

  it('refuses a request whose body was changed after signing with 401 SIGN_ERROR', async () => {
    const res = await call('POST', '/v3/pay/transactions/jsapi', {
      appid: m.appid, mchid: m.mchid, description: '检验费', out_trade_no: 'RX20250101002', notify_url: notifyUrl,
      amount: { total: 100, currency: 'CNY' }, payer: { openid: 'o1' },
    }, (raw) => raw.replace('"total":100', '"total":1'));
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'SIGN_ERROR', message: '错误的签名，验签失败', detail: { field: 'signature', detail: { issue: 'sign not match' } } });
    expect(verifiedByPlatform(res.headers, res.text)).toBe(true);
    expect((await request(control).get('/_sim/wechatpay/orders')).body.map((o: { outTradeNo: string }) => o.outTradeNo)).not.toContain('RX20250101002');
  });

  it('pays an order and posts a TRANSACTION.SUCCESS notification that verifies with the platform key and decrypts with the APIv3 key', async () => {
    await order('RX20250101003', 8800);
    const { body } = await request(control).post('/_sim/wechatpay/orders/RX20250101003/pay').expect(200);
    expect(body.deliveries).toEqual([expect.objectContaining({ status: 204 })]);
    expect(received).toHaveLength(1);
    const [n] = received;
    expect(n.headers['wechatpay-serial']).toBe(m.platform.serial);
    expect(verifiedByPlatform(receivedHeaders(n), n.body)).toBe(true);
    const notice = JSON.parse(n.body);
    expect(notice).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', resource: { algorithm: 'AEAD_AES_256_GCM', original_type: 'transaction' } });
    expect(decrypt(notice)).toMatchObject({
      mchid: m.mchid, appid: m.appid, out_trade_no: 'RX20250101003', trade_state: 'SUCCESS', trade_type: 'JSAPI',
      transaction_id: expect.stringMatching(/^\d{28}$/), amount: { total: 8800, payer_total: 8800, currency: 'CNY' }, payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    });
    const query = await call('GET', `/v3/pay/transactions/out-trade-no/RX20250101003?mchid=${m.mchid}`);
    expect(JSON.parse(query.text)).toMatchObject({ trade_state: 'SUCCESS', transaction_id: decrypt(notice).transaction_id });
    expect(JSON.parse((await call('POST', '/v3/pay/transactions/out-trade-no/RX20250101003/close', { mchid: m.mchid })).text).code).toBe('ORDERPAID');
  });

  it('sends the same notification N times at once with ?times=N', async () => {
    await order('RX20250101004');
    const { body } = await request(control).post('/_sim/wechatpay/orders/RX20250101004/pay').query({ times: 5 }).expect(200);
    expect(body.deliveries).toHaveLength(5);
    expect(received).toHaveLength(5);
    expect(new Set(received.map((r) => JSON.parse(r.body).id)).size).toBe(1);
    for (const r of received) expect(verifiedByPlatform(receivedHeaders(r), r.body)).toBe(true);
  });

  it('spoils a notification on request: a forged signature, or a genuine one over a wrong amount', async () => {
    await order('RX20250101005', 500);
    await request(control).post('/_sim/wechatpay/orders/RX20250101005/pay').query({ tamper: 'signature' }).expect(200);
    await request(control).post('/_sim/wechatpay/orders/RX20250101005/pay').query({ tamper: 'amount' }).expect(200);
    expect(verifiedByPlatform(receivedHeaders(received[0]), received[0].body)).toBe(false);
    expect(verifiedByPlatform(receivedHeaders(received[1]), received[1].body)).toBe(true);
    expect(decrypt(JSON.parse(received[1].body)).amount.total).toBe(501);
  });

  it('refunds part of a paid order once per out_refund_no, refuses more than is left, and notifies REFUND.SUCCESS', async () => {
    await order('RX20250101006', 3000);
    await request(control).post('/_sim/wechatpay/orders/RX20250101006/pay').query({ times: 0 }).expect(200);
    const ask = (no: string, refund: number) => call('POST', '/v3/refund/domestic/refunds', {
      out_trade_no: 'RX20250101006', out_refund_no: no, reason: '患者申请退药', notify_url: notifyUrl, amount: { refund, total: 3000, currency: 'CNY' },
    });
    const first = await ask('RF20250101006A', 1000);
    expect(JSON.parse(first.text)).toMatchObject({ status: 'PROCESSING', out_refund_no: 'RF20250101006A', amount: { refund: 1000, total: 3000 } });
    expect(JSON.parse((await ask('RF20250101006A', 1000)).text).refund_id).toBe(JSON.parse(first.text).refund_id);
    const tooMuch = await ask('RF20250101006B', 2001);
    expect(tooMuch.status).toBe(400);
    expect(JSON.parse(tooMuch.text).code).toBe('INVALID_REQUEST');

    await request(control).post('/_sim/wechatpay/refunds/RF20250101006A/succeed').expect(200);
    const notice = JSON.parse(received[0].body);
    expect(notice.event_type).toBe('REFUND.SUCCESS');
    expect(verifiedByPlatform(receivedHeaders(received[0]), received[0].body)).toBe(true);
    expect(decrypt(notice)).toMatchObject({ out_refund_no: 'RF20250101006A', refund_status: 'SUCCESS', amount: { refund: 1000, total: 3000 } });
    expect(JSON.parse((await call('GET', '/v3/refund/domestic/refunds/RF20250101006A')).text).status).toBe('SUCCESS');
  });

  it('lists the day\'s paid order and its refund in the trade bill, backquoted, with the summary, and the SHA1 matches', async () => {
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const bill = await call('GET', `/v3/bill/tradebill?bill_date=${today}&bill_type=ALL&tar_type=GZIP`);
    expect(verifiedByPlatform(bill.headers, bill.text)).toBe(true);
    const { download_url: url, hash_type: hashType, hash_value: hash } = JSON.parse(bill.text);
    expect(hashType).toBe('SHA1');
    const file = await call('GET', new URL(url).pathname + new URL(url).search);
    expect(file.status).toBe(200);
    const csv = zlib.gunzipSync(file.bytes).toString('utf8');
    expect(crypto.createHash('sha1').update(csv).digest('hex')).toBe(hash);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注');
    const paid = lines.find((l) => l.includes('`RX20250101003,') && l.includes('`SUCCESS,'))!.split(',');
    expect(paid).toHaveLength(27);
    expect(paid.every((v) => v.startsWith('`'))).toBe(true);
    expect(paid.slice(12, 13)).toEqual(['`88.00']);
    expect(paid[22]).toBe('`0.52800');
    const refund = lines.find((l) => l.includes('`RF20250101006A,'))!.split(',');
    expect(refund[9]).toBe('`REFUND');
    expect(refund[16]).toBe('`10.00');
    const summary = lines.indexOf('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
    expect(summary).toBe(lines.length - 3);
    expect(lines[summary + 1].split(',')[0]).toBe(`\`${summary - 1}`);
    expect(lines.some((l) => l.includes('RX20250101001'))).toBe(false);
  });

  it('fails the next calls as told (500, malformed, forged signature, no answer) and then answers normally', async () => {
    const query = () => call('GET', `/v3/pay/transactions/out-trade-no/RX20250101001?mchid=${m.mchid}`);
    await request(control).post('/_sim/wechatpay/fail').query({ times: 1, mode: '500' }).expect(200);
    expect((await query()).status).toBe(500);
    await request(control).post('/_sim/wechatpay/fail').query({ times: 1, mode: 'malformed' }).expect(200);
    const malformed = await query();
    expect(verifiedByPlatform(malformed.headers, malformed.text)).toBe(true);
    expect(() => JSON.parse(malformed.text)).toThrow();
    await request(control).post('/_sim/wechatpay/fail').query({ times: 1, mode: 'bad-signature' }).expect(200);
    const forged = await query();
    expect(JSON.parse(forged.text).trade_state).toBe('NOTPAY');
    expect(verifiedByPlatform(forged.headers, forged.text)).toBe(false);
    await request(control).post('/_sim/wechatpay/fail').query({ times: 1, mode: 'timeout' }).expect(200);
    await expect(fetch(`${peer.url}/v3/pay/transactions/out-trade-no/RX20250101001?mchid=${m.mchid}`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    const normal = await query();
    expect(normal.status).toBe(200);
    expect(verifiedByPlatform(normal.headers, normal.text)).toBe(true);
  });
});
