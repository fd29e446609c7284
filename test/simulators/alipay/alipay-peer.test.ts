import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import express from 'express';
import iconv from 'iconv-lite';
import request from 'supertest';
import { AlipayPeer, alipayPeer } from '../../../simulators/alipay/alipay-peer';

interface App {
  appId: string;
  pid: string;
  app: { privateKey: string };
  alipay: { publicKey: string };
}

/** RSA2 string to sign, written here from formats.md 2.2, independent of the simulator's code. */
const content = (p: Record<string, string>, exclude: string[]) =>
  Object.keys(p).filter((k) => !exclude.includes(k) && p[k] !== '').sort().map((k) => `${k}=${p[k]}`).join('&');

/** The members of a zip, names decoded as GBK: what a reconciliation job reads from the central directory. */
function unzip(zip: Buffer): { name: string; flags: number; text: string }[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const members = [];
  for (let i = 0; i < count; i++) {
    const flags = zip.readUInt16LE(at + 8);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = iconv.decode(zip.subarray(at + 46, at + 46 + nameLength), 'gbk');
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    members.push({ name, flags, text: iconv.decode(zlib.inflateRawSync(zip.subarray(dataAt, dataAt + size)), 'gbk') });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return members;
}

describe('Alipay gateway simulator', () => {
  let peer: AlipayPeer;
  let control: express.Express;
  let a: App;
  let receiver: http.Server;
  let notifyUrl: string;
  let received: Record<string, string>[] = [];

  async function call(method: string, biz: object, tamper?: (p: Record<string, string>) => void) {
    const now = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
    const p: Record<string, string> = {
      app_id: a.appId, method, format: 'JSON', charset: 'utf-8', sign_type: 'RSA2', timestamp: now, version: '1.0',
      notify_url: notifyUrl, biz_content: JSON.stringify(biz),
    };
    p.sign = crypto.sign('sha256', Buffer.from(content(p, ['sign'])), a.app.privateKey).toString('base64');
    tamper?.(p);
    const res = await fetch(`${peer.url}/gateway.do`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: new URLSearchParams(p).toString(),
    });
    const text = await res.text();
    const key = `${method.replace(/\./g, '_')}_response`;
    // The signature covers the exact characters of the inner object, so it is cut out of the text, not re-serialised.
    const signed = /,"sign":"([^"]+)"}$/.exec(text);
    const inner = signed ? text.slice(key.length + 4, signed.index) : undefined;
    return {
      status: res.status, text,
      body: (() => { try { return JSON.parse(text)[key] ?? JSON.parse(text).error_response; } catch { return undefined; } })(),
      verified: !!signed && crypto.verify('sha256', Buffer.from(inner!), a.alipay.publicKey, Buffer.from(signed[1], 'base64')),
    };
  }

  const notificationVerifies = (p: Record<string, string>) =>
    crypto.verify('sha256', Buffer.from(content(p, ['sign', 'sign_type'])), a.alipay.publicKey, Buffer.from(p.sign, 'base64'));

  async function trade(outTradeNo: string, amount = '23.50') {
    const res = await call('alipay.trade.create', { out_trade_no: outTradeNo, total_amount: amount, subject: '北院院区-检查费', buyer_id: '2088102177846880' });
    expect(res.body).toMatchObject({ code: '10000', out_trade_no: outTradeNo });
    return res;
  }

  beforeAll(async () => {
    peer = alipayPeer();
    await peer.start();
    control = express().use('/_sim/alipay', peer.control());
    a = (await request(control).get('/_sim/alipay/').expect(200)).body;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push(Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
        res.end('success');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channels/alipay-notify`;
  });
  beforeEach(() => {
    received = [];
  });
  afterAll(async () => {
    await peer?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('creates a trade from a request signed with the app key and answers signed with the Alipay key', async () => {
    const res = await trade('AP20250101001');
    expect(res.body.trade_no).toMatch(/^\d{8}2200\d{16}$/);
    expect(res.verified).toBe(true);
    expect((await call('alipay.trade.query', { out_trade_no: 'AP20250101001' })).body).toMatchObject({ code: '10000', trade_status: 'WAIT_BUYER_PAY', total_amount: '23.50' });
  });

  it('refuses a request changed after signing with isv.invalid-signature, naming the string it verified', async () => {
    const res = await call('alipay.trade.create', { out_trade_no: 'AP20250101002', total_amount: '100.00', subject: '挂号费' }, (p) => {
      p.biz_content = p.biz_content.replace('100.00', '0.01');
    });
    expect(res.body).toMatchObject({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' });
    expect(res.body.sub_msg).toContain('网关生成的验签字符串为：app_id=');
    expect((await call('alipay.trade.query', { out_trade_no: 'AP20250101002' })).body.sub_code).toBe('ACQ.TRADE_NOT_EXIST');
  });

  it('pays a trade and posts a form-encoded TRADE_SUCCESS notification that verifies with the Alipay public key', async () => {
    await trade('AP20250101003', '88.00');
    const { body } = await request(control).post('/_sim/alipay/orders/AP20250101003/pay').expect(200);
    expect(body.deliveries).toEqual([expect.objectContaining({ status: 200, acknowledged: true })]);
    const [n] = received;
    expect(n).toMatchObject({ notify_type: 'trade_status_sync', app_id: a.appId, seller_id: a.pid, out_trade_no: 'AP20250101003', trade_status: 'TRADE_SUCCESS', total_amount: '88.00', sign_type: 'RSA2' });
    expect(n.notify_id).toBeTruthy();
    expect(notificationVerifies(n)).toBe(true);
    expect(notificationVerifies({ ...n, total_amount: '0.01' })).toBe(false);
  });

  it('sends one notification N times with ?times=N, and spoils it when told', async () => {
    await trade('AP20250101004');
    await request(control).post('/_sim/alipay/orders/AP20250101004/pay').query({ times: 3 }).expect(200);
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.notify_id)).size).toBe(1);
    expect(received.every(notificationVerifies)).toBe(true);
    await request(control).post('/_sim/alipay/orders/AP20250101004/pay').query({ tamper: 'signature' }).expect(200);
    expect(notificationVerifies(received[3])).toBe(false);
  });

  it('refunds synchronously once per out_request_no, refuses more than is left, and reports REFUND_SUCCESS', async () => {
    const refund = (no: string, amount: string) => call('alipay.trade.refund', { out_trade_no: 'AP20250101003', refund_amount: amount, out_request_no: no, refund_reason: '患者申请退费' });
    const first = await refund('RF20250101003A', '30.00');
    expect(first.body).toMatchObject({ code: '10000', fund_change: 'Y', refund_fee: '30.00' });
    expect(first.verified).toBe(true);
    expect((await refund('RF20250101003A', '30.00')).body).toMatchObject({ code: '10000', fund_change: 'N', refund_fee: '30.00' });
    expect((await refund('RF20250101003B', '58.01')).body).toMatchObject({ code: '40004', sub_code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
    expect((await call('alipay.trade.fastpay.refund.query', { out_trade_no: 'AP20250101003', out_request_no: 'RF20250101003A' })).body)
      .toMatchObject({ code: '10000', refund_status: 'REFUND_SUCCESS', refund_amount: '30.00' });
  });

  it('holds a deferred refund without refund_status until the control API completes it and notifies', async () => {
    await request(control).post('/_sim/alipay/refunds/defer').query({ times: 1 }).expect(200);
    const res = await call('alipay.trade.refund', { out_trade_no: 'AP20250101003', refund_amount: '58.00', out_request_no: 'RF20250101003C' });
    expect(res.body).toMatchObject({ code: '10000', fund_change: 'N' });
    const query = () => call('alipay.trade.fastpay.refund.query', { out_trade_no: 'AP20250101003', out_request_no: 'RF20250101003C' });
    expect((await query()).body.refund_status).toBeUndefined();
    await request(control).post('/_sim/alipay/refunds/RF20250101003C/succeed').expect(200);
    expect((await query()).body.refund_status).toBe('REFUND_SUCCESS');
    expect(received[0]).toMatchObject({ out_biz_no: 'RF20250101003C', refund_fee: '88.00', trade_status: 'TRADE_CLOSED' });
    expect(notificationVerifies(received[0])).toBe(true);
  });

  it('serves the day\'s bill as a zip of GBK CSVs with GBK member names, listing the paid trade and its refunds', async () => {
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const res = await call('alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: today });
    expect(res.verified).toBe(true);
    const file = await fetch(res.body.bill_download_url);
    const members = unzip(Buffer.from(await file.arrayBuffer()));
    const stamp = today.replace(/-/g, '');
    expect(members.map((m) => m.name)).toEqual([`${a.pid}0156_${stamp}_业务明细.csv`, `${a.pid}0156_${stamp}_业务明细(汇总).csv`]);
    expect(members.every((m) => (m.flags & 0x800) === 0)).toBe(true);
    const lines = members[0].text.split('\r\n');
    expect(lines.slice(0, 2)).toEqual(['#支付宝业务明细查询', `#账号：[${a.pid}0156]`]);
    expect(lines[4]).toBe('支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注');
    const rows = lines.filter((l) => l.includes('AP20250101003\t')).map((l) => l.split(','));
    expect(rows.map((r) => [r[2].trim(), r[11], r[21].trim()])).toEqual([['交易', '88.00', ''], ['退款', '-30.00', 'RF20250101003A'], ['退款', '-58.00', 'RF20250101003C']]);
    expect(rows.every((r) => r.length === 25)).toBe(true);
    expect(lines).toContain('#退款合计：2笔，商家实收退款共-88.00元，商家优惠退款共0.00元');
    expect(lines.some((l) => l.includes('AP20250101001'))).toBe(false);
    expect(members[1].text.split('\r\n')[0]).toBe('#支付宝业务汇总查询');
  });

  it('fails the next calls as told (500, malformed, forged signature, no answer) and then answers normally', async () => {
    const query = () => call('alipay.trade.query', { out_trade_no: 'AP20250101001' });
    await request(control).post('/_sim/alipay/fail').query({ times: 1, mode: '500' }).expect(200);
    expect((await query()).status).toBe(500);
    await request(control).post('/_sim/alipay/fail').query({ times: 1, mode: 'malformed' }).expect(200);
    expect((await query()).body).toBeUndefined();
    await request(control).post('/_sim/alipay/fail').query({ times: 1, mode: 'bad-signature' }).expect(200);
    const forged = await query();
    expect(forged.body.trade_status).toBe('WAIT_BUYER_PAY');
    expect(forged.verified).toBe(false);
    await request(control).post('/_sim/alipay/fail').query({ times: 1, mode: 'timeout' }).expect(200);
    await expect(fetch(`${peer.url}/gateway.do`, { method: 'POST', signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect((await query()).verified).toBe(true);
  });
});
