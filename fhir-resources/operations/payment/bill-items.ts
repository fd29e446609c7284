import { isGone, isNotFound, Operator, OperationOutcomeError } from '@medplum/core';
import type { ChargeItem, MedicationRequest, Reference, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { CHARGE_LOCK_EXTENSION, CHARGE_STATUS, INVOICE_STATUS, PRESCRIPTION_NO_SYSTEM } from '../../billing/billing-vocabulary';
import { fenOf } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { badInput, notFoundHere, notYours, stateConflict } from '../workflow-outcomes';

/** What a patient selected to pay, resolved to the ChargeItems that bill it. */
export interface Bill {
  chargeItems: ChargeItem[];
  /** The orders behind them, by reference (`MedicationRequest/1`). */
  orders: Map<string, MedicationRequest | ServiceRequest>;
  totalFen: number;
  hasPrescriptions: boolean;
}

type Orderable = MedicationRequest | ServiceRequest | ChargeItem;
const ITEM_TYPES = ['MedicationRequest', 'ServiceRequest', 'ChargeItem'] as const;

const refOf = (r: Resource): string => `${r.resourceType}/${r.id}`;

async function readOrUndefined<T extends Resource>(repo: Repository, type: T['resourceType'], id: string): Promise<T | undefined> {
  try {
    return await repo.read<T>(type, id);
  } catch (err) {
    if (err instanceof OperationOutcomeError && (isNotFound(err.outcome) || isGone(err.outcome))) return undefined;
    throw err;
  }
}

/**
 * Reads an item the caller named. Through the caller's repository first: a patient sees only their own. Something
 * that exists but is not theirs is refused as 403 (the issue asks for it: "cannot see, pay or refund another
 * patient's bills"); the store alone would answer 404.
 */
async function readItem(repo: Repository, elevated: Repository, ref: string, expression: string): Promise<Orderable> {
  const m = /^(MedicationRequest|ServiceRequest|ChargeItem)\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
  if (!m) throw badInput(`缴费项目 ${ref} 无效：应为 MedicationRequest、ServiceRequest 或 ChargeItem 的引用`, expression);
  const [type, id] = [m[1] as (typeof ITEM_TYPES)[number], m[2]];
  const seen = await readOrUndefined<Orderable>(repo, type, id).catch((err: unknown) => {
    if (err instanceof OperationOutcomeError && err.outcome.id === 'forbidden') return undefined;
    throw err;
  });
  if (seen) return seen;
  if (await readOrUndefined(elevated, type, id)) throw notYours(`缴费项目 ${ref} 不属于当前就诊人，不能支付`, expression);
  throw notFoundHere(`缴费项目 ${ref} 不存在`, expression);
}

function subjectOf(r: Orderable): string | undefined {
  return r.subject?.reference;
}

async function chargeItemsOfOrder(elevated: Repository, orderRef: string): Promise<ChargeItem[]> {
  const found = await elevated.search({ resourceType: 'ChargeItem', filters: [{ code: 'service', operator: Operator.EQUALS, value: orderRef }], count: 200 });
  return found.resources as ChargeItem[];
}

/** A prescription is paid whole: a MedicationRequest with a 处方号 brings the other drugs of that prescription. */
async function prescriptionOf(elevated: Repository, rx: MedicationRequest): Promise<MedicationRequest[]> {
  const no = rx.groupIdentifier?.value;
  if (!no) return [rx];
  const found = await elevated.search({
    resourceType: 'MedicationRequest',
    filters: [
      { code: 'group-identifier', operator: Operator.EQUALS, value: `${rx.groupIdentifier?.system ?? PRESCRIPTION_NO_SYSTEM}|${no}` },
      { code: 'subject', operator: Operator.EQUALS, value: rx.subject?.reference ?? '' },
    ],
    count: 200,
  });
  const all = found.resources as MedicationRequest[];
  return all.some((r) => r.id === rx.id) ? all : [rx, ...all];
}

/**
 * Resolves the selected items of one patient to the ChargeItems to pay and checks each may be paid now: billable,
 * not locked by another unpaid Invoice, not already paid.
 */
export async function resolveBill(repo: Repository, elevated: Repository, items: Reference[], patient: string): Promise<Bill> {
  if (items.length === 0) throw badInput('请选择要支付的项目', 'Parameters.parameter.where(name = \'item\')');
  const chargeItems = new Map<string, ChargeItem>();
  const orders = new Map<string, MedicationRequest | ServiceRequest>();
  for (const [i, item] of items.entries()) {
    const expression = `Parameters.parameter.where(name = 'item')[${i}]`;
    const resource = await readItem(repo, elevated, item.reference ?? '', expression);
    if (subjectOf(resource) !== patient) throw notYours(`缴费项目 ${refOf(resource)} 不属于就诊人 ${patient}`, expression);
    if (resource.resourceType === 'ChargeItem') {
      chargeItems.set(refOf(resource), resource);
      continue;
    }
    const group = resource.resourceType === 'MedicationRequest' ? await prescriptionOf(elevated, resource) : [resource];
    for (const order of group) {
      orders.set(refOf(order), order);
      const billed = await chargeItemsOfOrder(elevated, refOf(order));
      if (billed.length === 0) throw badInput(`${refOf(order)} 没有收费明细（ChargeItem），暂不能支付`, expression);
      for (const c of billed) if (c.status !== CHARGE_STATUS.cancelled && c.status !== 'entered-in-error') chargeItems.set(refOf(c), c);
    }
  }
  for (const c of chargeItems.values()) {
    const service = c.service?.[0]?.reference;
    if (service && !orders.has(service) && /^(MedicationRequest|ServiceRequest)\//.test(service)) {
      const order = await readOrUndefined<MedicationRequest | ServiceRequest>(elevated, service.split('/')[0] as 'ServiceRequest', service.split('/')[1]);
      if (order) orders.set(service, order);
    }
  }
  let totalFen = 0;
  for (const c of chargeItems.values()) {
    const ref = refOf(c);
    if (c.subject?.reference !== patient) throw notYours(`收费明细 ${ref} 不属于就诊人 ${patient}`);
    if (c.status === CHARGE_STATUS.paid) throw stateConflict(`${itemName(c)} 已缴费，请勿重复支付`);
    if (c.status !== CHARGE_STATUS.unpaid) throw stateConflict(`${itemName(c)} 当前状态（${c.status}）不能支付`);
    const amount = fenOf(c.priceOverride);
    if (amount === undefined || amount < 0) throw badInput(`收费明细 ${ref} 没有金额`);
    totalFen += amount;
  }
  const hasPrescriptions = [...chargeItems.values()].some((c) => c.service?.some((s) => s.reference?.startsWith('MedicationRequest/')));
  return { chargeItems: [...chargeItems.values()], orders, totalFen, hasPrescriptions };
}

export function itemName(c: ChargeItem): string {
  return c.code?.text ?? c.code?.coding?.[0]?.display ?? `收费项目 ${c.id}`;
}

/** The Invoice that holds the item's lock, if any. */
export function lockOf(c: ChargeItem): string | undefined {
  return c.extension?.find((e) => e.url === CHARGE_LOCK_EXTENSION)?.valueReference?.reference;
}

/** Is the item held by an Invoice still waiting for its payment (and not by `except`)? */
export async function heldByOtherInvoice(elevated: Repository, c: ChargeItem, except?: string): Promise<string | undefined> {
  const lock = lockOf(c);
  if (!lock || lock === except) return undefined;
  const invoice = await readOrUndefined<import('@medplum/fhirtypes').Invoice>(elevated, 'Invoice', lock.split('/')[1]);
  return invoice?.status === INVOICE_STATUS.awaitingPayment ? lock : undefined;
}
