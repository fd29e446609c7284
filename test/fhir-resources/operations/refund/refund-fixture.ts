import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import type { Knex } from 'knex';
import type {
  ChargeItem, Invoice, MedicationRequest, Parameters, PaymentNotice, Resource, ServiceRequest, Task,
} from '@medplum/fhirtypes';
import { InProcessBus } from '../../../../engine/bus/in-process-bus';
import { AlipayGateway } from '../../../../adapters/payment/alipay-gateway';
import { WechatPayGateway } from '../../../../adapters/payment/wechatpay-gateway';
import { AuditLog } from '../../../../fhir-resources/audit/audit-log';
import { AccessPolicy } from '../../../../fhir-resources/auth/access-policy';
import { DemoTokenIssuer } from '../../../../fhir-resources/auth/demo-token-issuer';
import { FhirSecurity } from '../../../../fhir-resources/auth/fhir-security';
import { TokenVerifier } from '../../../../fhir-resources/auth/token-verifier';
import {
  CHARGE_CODE_SYSTEM, CHARGE_STATUS, CHECKOUT_KEY_SYSTEM, INVOICE_STATUS, OUT_TRADE_NO_SYSTEM, PAYMENT_CHANNEL_EXTENSION,
  PICKUP_CODE_SYSTEM, PRESCRIPTION_NO_SYSTEM, TASK_BUSINESS_STATUS_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM, TRANSACTION_ID_SYSTEM,
  UNIT_PRICE_EXTENSION,
} from '../../../../fhir-resources/billing/billing-vocabulary';
import { money } from '../../../../fhir-resources/billing/money';
import { applyRefundResult } from '../../../../fhir-resources/operations/refund/refund-result';
import { refundOperations } from '../../../../fhir-resources/operations/refund/refund-operations';
import { validateOperation } from '../../../../fhir-resources/operations/validate';
import { fhirRouter } from '../../../../fhir-resources/rest/fhir-router';
import { KnexSearchIndex } from '../../../../fhir-resources/search/search-index';
import { createFhirStore, type FhirStore } from '../../../../fhir-resources/store/fhir-store';
import type { KnexRepository } from '../../../../fhir-resources/store/knex-repository';
import { alipayPeer, type AlipayPeer } from '../../../../simulators/alipay/alipay-peer';
import { wechatPayPeer, type WechatPayPeer } from '../../../../simulators/wechatpay/wechatpay-peer';
import { createTestDatabase, type TestDatabase } from '../../../support/databases';

const AUDIENCE = 'lingshu-test';

/**
 * The refund workflow's stack: the store with security (demo tokens), the refund operations over the real WeChat Pay
 * and Alipay gateways talking to their simulators, and a WeChat Pay notify_url that does what the wechatpay notify
 * channel does with a refund notification: verify and decrypt it with the gateway, then applyRefundResult.
 */
export interface RefundFixture {
  app: express.Express;
  db: Knex;
  repository: KnexRepository;
  peer: WechatPayPeer;
  gateway: WechatPayGateway;
  alipay: AlipayPeer;
  alipayGateway: AlipayGateway;
  notifyUrl: string;
  token(role: string, subject?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * `gatewayTimeoutMs`: how long the gateways wait for the payment simulators. Generous by default, so a call answered
 * late on a loaded CI machine is not taken for an unanswered one; a suite that makes a simulator hang passes less.
 */
export async function startRefundFixture(kind: TestDatabase['name'], gatewayTimeoutMs = 5000): Promise<RefundFixture> {
  const database = await createTestDatabase(kind);
  const db = database.open();
  const bus = new InProcessBus(db, { pollMs: 10 });
  await bus.start();
  const peer = wechatPayPeer();
  await peer.start();
  const k = peer.keys;
  const gateway = new WechatPayGateway({
    baseUrl: peer.url, mchid: k.mchid, appid: k.appid,
    merchantSerial: k.merchant.serial, merchantPrivateKey: { value: k.merchant.privateKeyPem! },
    platformSerial: k.platform.serial, platformPublicKey: { value: k.platform.publicKeyPem },
    apiV3Key: { value: k.apiV3Key }, timeoutMs: gatewayTimeoutMs,
  });
  const alipay = alipayPeer();
  await alipay.start();
  const alipayGateway = new AlipayGateway({
    gatewayUrl: `${alipay.url}/gateway.do`, appId: alipay.keys.appId, pid: alipay.keys.pid,
    appPrivateKey: { value: alipay.keys.app.privateKeyPem! }, alipayPublicKey: { value: alipay.keys.alipay.publicKeyPem }, timeoutMs: gatewayTimeoutMs,
  });
  const stopPeers = async () => {
    await gateway.close();
    await alipayGateway.close();
    await peer.stop();
    await alipay.stop();
  };
  let store: FhirStore | undefined;
  let notify: http.Server | undefined;
  try {
    store = await createFhirStore({ db, bus, searchIndex: new KnexSearchIndex() });
    const repository = store.repository;
    const audit = new AuditLog(db);
    await audit.migrate();
    notify = await notifyReceiver(gateway, repository);
    const notifyUrl = `http://127.0.0.1:${(notify.address() as AddressInfo).port}/channels/wechatpay/notify`;
    const issuer = await DemoTokenIssuer.create(AUDIENCE);
    const security = new FhirSecurity({ audit, verifier: new TokenVerifier([issuer.trusted], AUDIENCE), masking: false, policy: new AccessPolicy() });
    const app = express();
    app.use('/fhir', fhirRouter({ repository, operations: [validateOperation, ...refundOperations({ gateways: { wechatpay: gateway, alipay: alipayGateway }, notifyUrl: (channel) => (channel === 'wechatpay' ? notifyUrl : undefined) })], security }));
    const started = store;
    const server = notify;
    return {
      app, db, repository, peer, gateway, alipay, alipayGateway, notifyUrl,
      token: async (role, subject) => (await issuer.issue({ role, subject })).access_token,
      close: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await stopPeers();
        await started.relay.stop();
        await bus.close();
        await db.destroy();
        await database.drop();
      },
    };
  } catch (err) {
    notify?.close();
    await stopPeers();
    await store?.relay.stop();
    await bus.close();
    await db.destroy();
    await database.drop();
    throw err;
  }
}

/** The refund half of the wechatpay notify channel, in miniature: answers after the result is applied. */
async function notifyReceiver(gateway: WechatPayGateway, repository: KnexRepository): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string | undefined> = {};
      for (const [key, v] of Object.entries(req.headers)) headers[key] = Array.isArray(v) ? v.join(', ') : v;
      void (async () => {
        try {
          const n = gateway.parseNotification({ headers, body: Buffer.concat(chunks), contentType: req.headers['content-type'] });
          if (n.kind === 'refund') await applyRefundResult(repository, n.refund);
          const a = gateway.notificationAnswer(true);
          res.writeHead(a.status, { 'Content-Type': a.contentType }).end(a.body);
        } catch (err) {
          const a = gateway.notificationAnswer(false, (err as Error).message);
          res.writeHead(a.status, { 'Content-Type': a.contentType }).end(a.body);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return server;
}

export interface BillLine {
  name: string;
  fen: number;
  kind: 'drug' | 'lab';
}

export interface PaidBill {
  invoice: Invoice;
  items: ChargeItem[];
  orders: Array<MedicationRequest | ServiceRequest>;
  outTradeNo: string;
  circulation?: Task;
}

let serial = 0;

/**
 * A bill as checkout and the payment workflow leave it: the order made and paid at the WeChat Pay simulator, then the
 * Invoice `balanced`, its ChargeItems `billed`, a PaymentNotice and, for drugs, the circulation Task.
 */
export async function paidBill(fx: RefundFixture, patient: string, lines: BillLine[], options: { pay?: boolean; channel?: 'wechatpay' | 'alipay' } = {}): Promise<PaidBill> {
  const repo = fx.repository;
  const n = `${Date.now()}${++serial}`;
  const outTradeNo = `LS${n}`;
  const totalFen = lines.reduce((s, l) => s + l.fen, 0);
  const channel = options.channel ?? 'wechatpay';
  let transactionId: string;
  if (channel === 'wechatpay') {
    await fx.gateway.createOrder({ outTradeNo, description: '桃源院区 门诊缴费', amountFen: totalFen, notifyUrl: fx.notifyUrl, scene: 'jsapi', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    if (options.pay !== false) await fx.peer.pay(outTradeNo, 0);
    transactionId = fx.peer.state.orders.get(outTradeNo)!.transactionId ?? 'unpaid';
  } else {
    const created = await fx.alipayGateway.createOrder({ outTradeNo, description: '北院院区 门诊缴费', amountFen: totalFen, notifyUrl: fx.notifyUrl, scene: 'jsapi', payer: { alipayUserId: '2088102177846880' } });
    if (options.pay !== false) await fx.alipay.pay(outTradeNo, 0);
    transactionId = created.clientParameters.tradeNo;
  }
  const orders: Array<MedicationRequest | ServiceRequest> = [];
  const items: ChargeItem[] = [];
  for (const [i, line] of lines.entries()) {
    const order: MedicationRequest | ServiceRequest = line.kind === 'drug'
      ? { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient}` }, medicationCodeableConcept: { text: line.name }, groupIdentifier: { system: PRESCRIPTION_NO_SYSTEM, value: `CF${n}` } }
      : { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient}` }, code: { text: line.name }, category: [{ text: '检验' }] };
    const savedOrder = (await repo.create<Resource>(order)).resource as MedicationRequest | ServiceRequest;
    orders.push(savedOrder);
    items.push((await repo.create<ChargeItem>({
      resourceType: 'ChargeItem', status: CHARGE_STATUS.paid, subject: { reference: `Patient/${patient}` },
      code: { coding: [{ system: CHARGE_CODE_SYSTEM, code: `SF${i}`, display: line.name }], text: line.name },
      quantity: { value: 1 }, priceOverride: money(line.fen), enteredDate: new Date().toISOString(),
      extension: [{ url: UNIT_PRICE_EXTENSION, valueMoney: money(line.fen) }],
      service: [{ reference: `${savedOrder.resourceType}/${savedOrder.id}` }],
    })).resource);
  }
  const invoice = (await repo.create<Invoice>({
    resourceType: 'Invoice', status: INVOICE_STATUS.paid, subject: { reference: `Patient/${patient}` },
    identifier: [
      { system: OUT_TRADE_NO_SYSTEM, value: outTradeNo }, { system: CHECKOUT_KEY_SYSTEM, value: `${patient}|${n}` },
      { system: PICKUP_CODE_SYSTEM, value: n.slice(-8) },
    ],
    lineItem: items.map((item, i) => ({ chargeItemReference: { reference: `ChargeItem/${item.id}` }, priceComponent: [{ type: 'base', amount: money(lines[i].fen) }] })),
    totalNet: money(totalFen), totalGross: money(totalFen),
    extension: [{ url: PAYMENT_CHANNEL_EXTENSION, valueCode: channel }],
  })).resource;
  await repo.create<PaymentNotice>({
    resourceType: 'PaymentNotice', status: 'active', created: new Date().toISOString(),
    identifier: [{ system: OUT_TRADE_NO_SYSTEM, value: outTradeNo }, { system: TRANSACTION_ID_SYSTEM, value: transactionId }],
    request: { reference: `Invoice/${invoice.id}` }, payment: { identifier: { system: TRANSACTION_ID_SYSTEM, value: transactionId } },
    recipient: { display: '桃源院区' }, amount: money(totalFen), paymentStatus: { coding: [{ code: 'paid' }] },
  });
  const drugs = orders.filter((o) => o.resourceType === 'MedicationRequest');
  const circulation = drugs.length === 0 ? undefined : (await repo.create<Task>({
    resourceType: 'Task', status: 'requested', intent: 'order',
    code: { coding: [{ system: TASK_CODE_SYSTEM, code: TASK_CODE.circulation }] },
    businessStatus: { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code: 'awaiting-pickup' }] },
    focus: { reference: `Invoice/${invoice.id}` }, for: { reference: `Patient/${patient}` },
    basedOn: drugs.map((d) => ({ reference: `MedicationRequest/${d.id}` })),
  })).resource;
  return { invoice, items, orders, outTradeNo, circulation };
}

/** POSTs an operation with a token; `parameter` as in Parameters. */
export function invoke(fx: RefundFixture, token: string, path: string, parameter: Parameters['parameter'] = []) {
  return request(fx.app).post(`/fhir/${path}`).set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Parameters', parameter }));
}

/** The `result` parts of an approval / rejection answer, as plain objects. */
export function results(body: Parameters): Array<{ task?: string; status?: string; businessStatus?: string; outcome?: { issue: Array<{ severity: string; diagnostics?: string }> } }> {
  return (body.parameter ?? []).filter((p) => p.name === 'result').map((p) => {
    const part = (name: string) => p.part?.find((x) => x.name === name);
    return {
      task: part('task')?.valueReference?.reference,
      status: part('status')?.valueCode,
      businessStatus: part('businessStatus')?.valueCode,
      outcome: part('outcome')?.resource as never,
    };
  });
}
