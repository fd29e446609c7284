import type { BundleEntry, ChargeItem, Encounter, Patient, Reference } from '@medplum/fhirtypes';
import { CHARGE_CODE_SYSTEM, CHARGE_STATUS, UNIT_PRICE_EXTENSION } from '../../fhir-resources/billing/billing-vocabulary';
import { fenOfYuan, money } from '../../fhir-resources/billing/money';
import type { MappingProblems } from './mapping-problems';
import { conditionalUpdate, identifierToken } from './transaction-entries';
import { displayOf, idWithRoot } from './v3-datatypes';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';

/**
 * The price of an ordered item, which the 互联互通 order model has no slot for. The HIS puts it where its 医嘱查询
 * answers do (simulators/his/his-v3.ts; mappings/hl7v3/README.md "收费"): `component1/charge` on the item, and the
 * 收费状态 as a local-code observation in `subjectOf`:
 *
 *   <component1><charge>
 *     <id><item root="2.16.156.10011.2.5.1.97" extension="收费明细ID"/></id>          optional
 *     <code code="收费项目" codeSystem="2.16.156.10011.2.5.1.98" displayName="…"/>    optional: the item's own code
 *     <unitQuantity value="2" unit="盒"/>                                             optional: 1
 *     <unitPriceAmt value="14.25" currency="CNY"/>                                    optional when quantity divides
 *     <amount value="28.50" currency="CNY"/>                                          the line's amount in 元
 *   </charge></component1>
 *   <subjectOf><observation><code code="CHARGE_STATUS" codeSystem="2.16.156.10011.2.5.1.99"/><value code="0|1|2"/></observation></subjectOf>
 */
export interface ChargeLine {
  /** 收费明细 ID, when the HIS sends one; otherwise the line is keyed on the 医嘱 ID (one charge per order item). */
  lineId?: string;
  code: string;
  display?: string;
  quantity: number;
  unit?: string;
  unitPriceFen: number;
  amountFen: number;
  /** 收费状态: 0 未收费 → billable, 1 已收费 → billed, 2 已退费 → not-billable. */
  paidState: 'unpaid' | 'paid' | 'refunded';
}

const PAID_STATES: Readonly<Record<string, ChargeLine['paidState']>> = { '0': 'unpaid', '1': 'paid', '2': 'refunded' };

function readYuan(element: V3Element | undefined, what: string, problems: MappingProblems): number | undefined {
  const raw = element?.attr('value');
  if (raw === undefined) return undefined;
  const fen = fenOfYuan(raw);
  if (fen === undefined || fen < 0) problems.add('value', `${raw} is not ${what} in 元 (a non-negative amount with at most 2 decimals)`, element!.attrPath('value'));
  const currency = element!.attr('currency');
  if (currency && currency !== 'CNY') problems.add('value', `${what} is in ${currency}; the HIS bills in CNY`, element!.attrPath('currency'));
  return fen;
}

function readPaidState(item: V3Element, problems: MappingProblems): ChargeLine['paidState'] {
  const observation = item.all('subjectOf').map((s) => s.child('observation')).find((o) => o?.child('code')?.attr('code') === 'CHARGE_STATUS');
  const value = observation?.child('value');
  const code = value?.attr('code');
  if (!code) return 'unpaid';
  const state = PAID_STATES[code];
  if (!state) problems.add('code-invalid', `${code} is not a 收费状态 (0 未收费, 1 已收费, 2 已退费)`, value!.attrPath('code'));
  return state ?? 'unpaid';
}

/** The charge of one ordered item, or undefined when it carries none (an order the HIS prices elsewhere). */
export function readCharge(item: V3Element, itemCode: V3Element | undefined, itemName: string | undefined, problems: MappingProblems): ChargeLine | undefined {
  const charge = item.at('component1', 'charge');
  if (!charge) return undefined;
  const amountElement = charge.child('amount');
  const amountFen = readYuan(amountElement, 'the amount', problems);
  if (!amountElement?.attr('value')) problems.add('required', 'the charge has no amount (component1/charge/amount/@value)', `${charge.path}/amount`);
  const quantityElement = charge.child('unitQuantity');
  const quantityText = quantityElement?.attr('value') ?? '1';
  const quantity = Number(quantityText);
  if (!/^\d+(\.\d+)?$/.test(quantityText) || quantity <= 0) problems.add('value', `${quantityText} is not a quantity`, quantityElement?.attrPath('value') ?? charge.path);
  let unitPriceFen = readYuan(charge.child('unitPriceAmt'), 'the unit price', problems);
  if (unitPriceFen === undefined && amountFen !== undefined && quantity > 0) {
    // Without a unit price the amount must split evenly, or the bill would show a price the HIS never set.
    if (Number.isInteger(amountFen / quantity)) unitPriceFen = amountFen / quantity;
    else problems.add('required', `the amount does not divide by the quantity ${quantityText}: the unit price (unitPriceAmt) is needed`, `${charge.path}/unitPriceAmt`);
  } else if (unitPriceFen !== undefined && amountFen !== undefined && Number.isInteger(quantity) && unitPriceFen * quantity !== amountFen) {
    problems.add('invariant', `the amount ${amountElement!.attr('value')} is not the unit price × ${quantityText}`, amountElement!.attrPath('value'));
  }
  const codeElement = charge.child('code') ?? itemCode;
  const code = codeElement?.attr('code');
  if (!code) problems.add('required', 'the charge has no 收费项目 code (component1/charge/code or the item code)', `${charge.path}/code`);
  const lineId = idWithRoot(charge.child('id'), V3_OID.chargeLine)?.attr('extension');
  const display = displayOf(codeElement) ?? (charge.child('code') ? undefined : itemName);
  const unit = quantityElement?.attr('unit');
  return {
    ...(lineId ? { lineId } : {}), code: code ?? '', ...(display ? { display } : {}), quantity, ...(unit ? { unit } : {}),
    unitPriceFen: unitPriceFen ?? 0, amountFen: amountFen ?? 0, paidState: readPaidState(item, problems),
  };
}

export interface ChargeContext {
  /** fullUrl of the MedicationRequest / ServiceRequest entry the charge bills. */
  service: string;
  orderId: string;
  /** The order was cancelled: an unpaid charge for it will never be paid. */
  cancelled: boolean;
  subject: Reference<Patient>;
  encounter?: Reference<Encounter>;
  enteredDate?: string;
}

function chargeStatus(line: ChargeLine, cancelled: boolean): ChargeItem['status'] {
  if (line.paidState === 'paid') return CHARGE_STATUS.paid;
  if (line.paidState === 'refunded') return CHARGE_STATUS.refunded;
  return cancelled ? CHARGE_STATUS.cancelled : CHARGE_STATUS.unpaid;
}

/**
 * The ChargeItem of one priced line (fhir-resources/billing/README.md), written with a conditional update on its
 * identifier — the 收费明细 ID, or the 医嘱 ID when the HIS sends none — so a resend or a 医嘱更新 updates it.
 */
export function chargeItemEntry(line: ChargeLine, c: ChargeContext): BundleEntry {
  const identifier = line.lineId
    ? { system: oidSystem(V3_OID.chargeLine), value: line.lineId }
    : { system: oidSystem(V3_OID.orderId), value: c.orderId };
  const item: ChargeItem = {
    resourceType: 'ChargeItem',
    extension: [{ url: UNIT_PRICE_EXTENSION, valueMoney: money(line.unitPriceFen) }],
    identifier: [identifier],
    status: chargeStatus(line, c.cancelled),
    code: { coding: [{ system: CHARGE_CODE_SYSTEM, code: line.code, ...(line.display ? { display: line.display } : {}) }], ...(line.display ? { text: line.display } : {}) },
    subject: c.subject,
    ...(c.encounter ? { context: c.encounter } : {}),
    quantity: { value: line.quantity, ...(line.unit ? { unit: line.unit } : {}) },
    priceOverride: money(line.amountFen),
    ...(c.enteredDate ? { enteredDate: c.enteredDate } : {}),
    service: [{ reference: c.service }],
  };
  return conditionalUpdate(item, `identifier=${identifierToken(identifier.system, identifier.value)}`);
}
