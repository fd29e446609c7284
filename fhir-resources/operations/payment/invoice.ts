import type { ChargeItem, Extension, Invoice, Reference } from '@medplum/fhirtypes';
import {
  CHARGE_LOCK_EXTENSION, CHECKOUT_KEY_SYSTEM, INVOICE_STATUS, OUT_TRADE_NO_SYSTEM, PAYMENT_CHANNEL_EXTENSION,
  PHARMACY_EXTENSION, type PaymentChannelCode,
} from '../../billing/billing-vocabulary';
import { fenOf, money } from '../../billing/money';
import type { Repository } from '../../store/repository';

export interface InvoiceDraft {
  patient: string;
  chargeItems: ChargeItem[];
  totalFen: number;
  outTradeNo: string;
  checkoutKey: string;
  channel: PaymentChannelCode;
  pharmacy?: Reference;
  issuedAt: string;
}

/** The Invoice of one checkout: its lines are the ChargeItems paid together, its identifier the out_trade_no. */
export function invoiceOf(d: InvoiceDraft): Invoice {
  const extension: Extension[] = [{ url: PAYMENT_CHANNEL_EXTENSION, valueCode: d.channel }];
  if (d.pharmacy) extension.push({ url: PHARMACY_EXTENSION, valueReference: d.pharmacy });
  return {
    resourceType: 'Invoice',
    status: INVOICE_STATUS.awaitingPayment,
    identifier: [
      { system: OUT_TRADE_NO_SYSTEM, value: d.outTradeNo },
      { system: CHECKOUT_KEY_SYSTEM, value: d.checkoutKey },
    ],
    subject: { reference: d.patient },
    date: d.issuedAt,
    extension,
    lineItem: d.chargeItems.map((c, i) => ({
      sequence: i + 1,
      chargeItemReference: { reference: `ChargeItem/${c.id}`, ...(c.code?.text ? { display: c.code.text } : {}) },
      priceComponent: [{ type: 'base', amount: money(fenOf(c.priceOverride) ?? 0) }],
    })),
    totalNet: money(d.totalFen),
    totalGross: money(d.totalFen),
  };
}

export function identifierOf(resource: { identifier?: { system?: string; value?: string }[] }, system: string): string | undefined {
  return resource.identifier?.find((i) => i.system === system)?.value;
}

export function channelOf(invoice: Invoice): PaymentChannelCode | undefined {
  return invoice.extension?.find((e) => e.url === PAYMENT_CHANNEL_EXTENSION)?.valueCode as PaymentChannelCode | undefined;
}

export function chargeItemRefs(invoice: Invoice): string[] {
  return (invoice.lineItem ?? []).map((l) => l.chargeItemReference?.reference).filter((r): r is string => !!r);
}

/**
 * The ChargeItems with these ids, read one after the other: inside a transaction all reads share one connection,
 * where overlapping queries only queue (and node-postgres 9 refuses them).
 */
export async function readChargeItems(repo: Pick<Repository, 'read'>, ids: string[]): Promise<ChargeItem[]> {
  const items: ChargeItem[] = [];
  for (const id of ids) items.push(await repo.read<ChargeItem>('ChargeItem', id));
  return items;
}

/** The ChargeItems an Invoice lists, in its order (readChargeItems). */
export function invoiceChargeItems(repo: Pick<Repository, 'read'>, invoice: Invoice): Promise<ChargeItem[]> {
  return readChargeItems(repo, chargeItemRefs(invoice).map((r) => r.split('/')[1]));
}

/** The item with the lock of `invoice` set, or removed when `invoice` is undefined. */
export function withLock(c: ChargeItem, invoice: string | undefined): ChargeItem {
  const others = (c.extension ?? []).filter((e) => e.url !== CHARGE_LOCK_EXTENSION);
  const extension = invoice ? [...others, { url: CHARGE_LOCK_EXTENSION, valueReference: { reference: invoice } }] : others;
  const { extension: _old, ...rest } = c;
  return extension.length ? { ...rest, extension } : rest;
}
