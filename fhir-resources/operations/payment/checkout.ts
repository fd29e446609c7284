import type { ChargeItem, Invoice, Reference } from '@medplum/fhirtypes';
import { PaymentGatewayError, type CreatedOrder, type PaymentScene } from '../../../adapters/payment/payment-gateway';
import { CHECKOUT_KEY_SYSTEM, INVOICE_STATUS, OUT_TRADE_NO_SYSTEM, PAYMENT_CHANNELS, PICKUP_CODE_SYSTEM, type PaymentChannelCode } from '../../billing/billing-vocabulary';
import { fenOf } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { code, integer, many, operation, optional, parts, ref, refs, resource, string, dateTime, type OperationCaller, type ParamValues } from '../operation';
import { badInput, notYours, peerUnavailable, stateConflict } from '../workflow-outcomes';
import { heldByOtherInvoice, itemName, resolveBill, type Bill } from './bill-items';
import { channelOf, identifierOf, invoiceOf, readChargeItems, withLock } from './invoice';
import { cancelInvoice } from './invoice-cancel';
import { findInvoice } from './invoice-lookup';
import type { GatewayChannel, PaymentDeps } from './payment-deps';
import { newOutTradeNo } from './payment-numbers';
import { freshPickupCode, startCirculation } from './payment-completion';

const SCENES: readonly PaymentScene[] = ['jsapi', 'h5', 'app', 'wap'];

const paymentShape = {
  channel: code(),
  outTradeNo: string(),
  amount: integer({ documentation: '应付金额（分）' }),
  expiresAt: optional(dateTime()),
  // The channel's client parameters: WeChat JSAPI (wx.requestPayment), WeChat H5, Alipay.
  appId: optional(string()), timeStamp: optional(string()), nonceStr: optional(string()), package: optional(string()),
  signType: optional(string()), paySign: optional(string()), h5Url: optional(string()), tradeNo: optional(string()),
  orderString: optional(string()),
};

type Payment = ParamValues<typeof paymentShape>;
/** The channel's client parameters vary by channel and scene; every part is optional in the declaration. */
const payment = (p: { channel: string; outTradeNo: string; amount: number } & Record<string, string | number>): Payment => p as unknown as Payment;

/** A patient pays for themself or for a family member who granted them access (the caller's repository can see them). */
async function requirePatientCaller(repo: Repository, caller: OperationCaller, patient: string): Promise<void> {
  if (caller.role !== 'patient' || caller.patient === patient) return;
  const visible = await repo.read('Patient', patient.split('/')[1]).then(() => true, () => false);
  if (!visible) throw notYours('只能为本人或已授权的就诊人缴费', "Parameters.parameter.where(name = 'patient')");
}

/**
 * `POST /fhir/$checkout`: the patient pays what they selected — prescriptions and medtech orders together (merged) or
 * one by one (split) — through WeChat Pay, Alipay, or at the pharmacy. One Invoice per checkout over the chosen
 * ChargeItems, which it locks; then the channel's order. A retry with the same clientKey answers the same Invoice
 * and order. The caller's repository reads what is selected (a patient sees only their own); the Invoice and the
 * locks are written elevated (patients may not write Invoices directly).
 */
export function checkoutOperation(deps: PaymentDeps) {
  return operation({
    name: 'checkout',
    level: 'system',
    description: '缴费下单：选择处方和/或检查检验项目（合并或分开支付）、取药药房和支付渠道，生成待支付账单并向支付渠道下单',
    parameters: {
      patient: ref('Patient'),
      item: many(refs('MedicationRequest', 'ServiceRequest', 'ChargeItem'), { min: 1 }),
      pharmacy: optional(ref('Organization')),
      channel: code({ documentation: 'wechatpay | alipay | pharmacy' }),
      clientKey: string({ documentation: '前端生成的幂等键：同一键重复提交返回同一账单' }),
      scene: optional(code({ documentation: 'jsapi（小程序/公众号，默认）| h5 | app | wap' })),
      openid: optional(string({ documentation: 'JSAPI 支付的用户 openid' })),
      clientIp: optional(string()),
    },
    output: { invoice: resource<Invoice>('Invoice'), payment: parts(paymentShape) },
    // The gateways are called outside any database transaction: on SQLite a transaction holds the one connection,
    // and a slow gateway must not stall every other request. The Invoice and its locks commit first; a refused or
    // unanswered order then cancels that Invoice again.
    transaction: 'own',
    async run(repo, p, ctx) {
      const elevated = ctx.elevated;
      const patient = normalizePatient(p.patient);
      await requirePatientCaller(repo, ctx.caller, patient);
      const channel = p.channel as PaymentChannelCode;
      if (!PAYMENT_CHANNELS.includes(channel)) throw badInput(`不支持的支付渠道 ${p.channel}（可选 ${PAYMENT_CHANNELS.join('、')}）`, "Parameters.parameter.where(name = 'channel')");
      if (channel !== 'pharmacy' && !deps.gateways[channel]) throw badInput(`支付渠道 ${channel} 未开通`, "Parameters.parameter.where(name = 'channel')");
      const scene = (p.scene ?? (channel === 'alipay' ? 'wap' : 'jsapi')) as PaymentScene;
      if (!SCENES.includes(scene)) throw badInput(`不支持的支付场景 ${p.scene}`, "Parameters.parameter.where(name = 'scene')");
      const checkoutKey = `${patient.split('/')[1]}|${p.clientKey}`;
      const payer = { scene, openid: p.openid, clientIp: p.clientIp };

      const earlier = await findInvoice(elevated, CHECKOUT_KEY_SYSTEM, checkoutKey);
      if (earlier) return { invoice: earlier, payment: await paymentOf(deps, earlier, payer) };

      const bill = await resolveBill(repo, elevated, p.item, patient);
      if (bill.totalFen <= 0) throw badInput('应付金额为 0，无需支付');
      if (bill.hasPrescriptions && !p.pharmacy) throw badInput('处方缴费需选择取药药房', "Parameters.parameter.where(name = 'pharmacy')");
      if (channel === 'pharmacy' && bill.chargeItems.length !== bill.chargeItems.filter(isDrug).length) {
        throw badInput('药房支付只适用于处方，检查检验项目请选择微信或支付宝');
      }
      if (p.pharmacy) await elevated.read('Organization', p.pharmacy.reference?.split('/')[1] ?? '').catch(() => {
        throw badInput(`取药药房 ${p.pharmacy?.reference} 不存在`, "Parameters.parameter.where(name = 'pharmacy')");
      });
      await releaseEarlierCheckouts(deps, elevated, bill);

      const invoice = await elevated.transaction(async (trx) => {
        // Locked at their current versions: a checkout or payment racing this one makes one of the two fail (409).
        const items = await readChargeItems(trx, bill.chargeItems.map((c) => c.id!));
        for (const item of items) {
          if (item.status !== 'billable') throw stateConflict(`${itemName(item)} 已缴费或正在支付中，请刷新后重试`);
          if (await heldByOtherInvoice(trx, item)) throw stateConflict(`${itemName(item)} 正在另一笔支付中，请勿重复提交`);
        }
        const outTradeNo = newOutTradeNo();
        const draft = invoiceOf({
          patient, chargeItems: items, totalFen: bill.totalFen, outTradeNo, checkoutKey, channel,
          pharmacy: p.pharmacy, issuedAt: new Date().toISOString(),
        });
        // Paid at the pharmacy: the prescription goes there now, with the code the patient picks up (and pays) with.
        const pickupCode = channel === 'pharmacy' ? await freshPickupCode(trx) : undefined;
        if (pickupCode) draft.identifier!.push({ system: PICKUP_CODE_SYSTEM, value: pickupCode });
        const { resource: created } = await trx.create(draft);
        for (const item of items) {
          await trx.update(withLock(item, `Invoice/${created.id}`), { ifMatch: item.meta?.versionId }).catch((err: unknown) => {
            throw lockLost(err, item);
          });
        }
        if (pickupCode) {
          const prescriptions = items.flatMap((c) => c.service ?? []).map((s) => s.reference ?? '').filter((r) => r.startsWith('MedicationRequest/'));
          await startCirculation(trx, created, [...new Set(prescriptions)], outTradeNo, pickupCode);
        }
        return created;
      });
      return { invoice, payment: await orderFor(deps, elevated, invoice, payer) };
    },
  });
}

const isDrug = (c: ChargeItem): boolean => !!c.service?.some((s) => s.reference?.startsWith('MedicationRequest/'));

function normalizePatient(r: Reference): string {
  const m = /(?:^|\/)(Patient\/[A-Za-z0-9\-.]{1,64})$/.exec(r.reference ?? '');
  if (!m) throw badInput('patient 应为 Patient 引用', "Parameters.parameter.where(name = 'patient')");
  return m[1];
}

function lockLost(err: unknown, item: ChargeItem): unknown {
  const id = (err as { outcome?: { id?: string } }).outcome?.id;
  return id === 'precondition-failed' || id === 'conflict' ? stateConflict(`${itemName(item)} 正在另一笔支付中，请勿重复提交`) : err;
}


/**
 * Items still held by an unpaid Invoice of an earlier checkout (the patient gave up on one channel and tries
 * another): that order is closed at its channel and the Invoice cancelled, unless it was paid meanwhile.
 */
async function releaseEarlierCheckouts(deps: PaymentDeps, elevated: Repository, bill: Bill): Promise<void> {
  const held = new Set<string>();
  for (const item of bill.chargeItems) {
    const lock = await heldByOtherInvoice(elevated, item);
    if (lock) held.add(lock);
  }
  for (const ref of held) {
    const invoice = await elevated.read<Invoice>('Invoice', ref.split('/')[1]);
    const channel = channelOf(invoice);
    const gateway = channel && channel !== 'pharmacy' ? deps.gateways[channel] : undefined;
    const outTradeNo = identifierOf(invoice, OUT_TRADE_NO_SYSTEM);
    if (gateway && outTradeNo) {
      const trade = await gateway.queryOrder(outTradeNo).catch((err: unknown) => { throw unavailable(err, channel!); });
      if (trade.state === 'SUCCESS' || trade.state === 'REFUND') throw stateConflict('所选项目已在另一笔订单中支付成功，请稍后刷新查看');
      await gateway.closeOrder(outTradeNo).catch((err: unknown) => { throw unavailable(err, channel!); });
    }
    await elevated.transaction((trx) => cancelInvoice(trx, invoice, '患者重新下单，原订单已关闭'));
  }
}

function unavailable(err: unknown, channel: string): unknown {
  if (err instanceof PaymentGatewayError) return stateConflict(`支付渠道 ${channel} 拒绝：${err.message}`);
  return peerUnavailable(`支付渠道 ${channel} 暂时无法连接，请稍后重试`);
}

interface PayerHints { scene: PaymentScene; openid?: string; clientIp?: string }

/**
 * The channel's order for a new Invoice. If the channel refuses it or cannot be reached, the Invoice is cancelled so
 * its items are free again (the payer never got what it takes to pay it); the patient retries with a new clientKey.
 * A retried checkout (same clientKey) never cancels: its order may have been paid already.
 */
async function orderFor(deps: PaymentDeps, elevated: Repository, invoice: Invoice, payer: PayerHints): Promise<Payment> {
  try {
    return await paymentOf(deps, invoice, payer);
  } catch (err) {
    if (invoice.status === INVOICE_STATUS.awaitingPayment) {
      const current = await elevated.read<Invoice>('Invoice', invoice.id!);
      await elevated.transaction((trx) => cancelInvoice(trx, current, '支付渠道下单失败')).catch(() => undefined);
    }
    throw err;
  }
}

/** The payment parts of an Invoice: for an unpaid one, the channel's order (created, or the same one again). */
async function paymentOf(deps: PaymentDeps, invoice: Invoice, payer: PayerHints): Promise<Payment> {
  const channel = channelOf(invoice) ?? 'pharmacy';
  const outTradeNo = identifierOf(invoice, OUT_TRADE_NO_SYSTEM)!;
  const amount = fenOf(invoice.totalNet) ?? 0;
  const base = { channel, outTradeNo, amount };
  if (invoice.status === INVOICE_STATUS.cancelled) throw stateConflict('该账单已取消，请重新下单');
  if (invoice.status !== INVOICE_STATUS.awaitingPayment || channel === 'pharmacy') return payment(base);
  const gateway = deps.gateways[channel as GatewayChannel];
  if (!gateway) throw badInput(`支付渠道 ${channel} 未开通`);
  const expiresAt = new Date(Date.parse(invoice.date ?? new Date().toISOString()) + deps.orderTtlMinutes * 60_000);
  let order: CreatedOrder;
  try {
    order = await gateway.createOrder({
      outTradeNo, amountFen: amount, notifyUrl: deps.notifyUrl(gateway.channel), scene: payer.scene,
      description: describe(deps.merchantName, invoice), expiresAt,
      payer: { openid: payer.openid, clientIp: payer.clientIp ?? '127.0.0.1' },
    });
  } catch (err) {
    throw unavailable(err, channel);
  }
  return payment({ ...base, expiresAt: expiresAt.toISOString(), ...order.clientParameters });
}

/** 商品描述: WeChat takes at most 127 characters. The same Invoice must give the same text (a re-sent order is compared). */
function describe(merchant: string, invoice: Invoice): string {
  const names = (invoice.lineItem ?? []).map((l) => l.chargeItemReference?.display).filter(Boolean);
  const text = `${merchant}-${names.length ? names.join('、') : '门诊缴费'}`;
  return text.length > 120 ? `${text.slice(0, 117)}等` : text;
}
