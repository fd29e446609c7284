import type { ActivityDefinition, BundleEntry, ChargeItemDefinition, CodeableConcept, UsageContext } from '@medplum/fhirtypes';
import { fenOfYuan, money } from '../../fhir-resources/billing/money';
import { conditionalUpdate, identifierToken } from '../hl7v3/transaction-entries';
import type { HisChargeItemRow } from './dictionary-rows';
import {
  activityDefinitionUrl, CHARGE_CATEGORIES, CHARGE_CATEGORY_SYSTEM, CHARGE_CODE_SYSTEM, chargeItemDefinitionUrl,
  HIS_DEPARTMENT_SYSTEM, SPECIAL_ITEM_EXTENSION, USAGE_CONTEXT_TYPE_SYSTEM,
} from './dictionary-vocabulary';

/** The item's code as orders, ChargeItems, Slots and both dictionary resources carry it. */
export function chargeItemCode(code: string, name: string): CodeableConcept {
  return { coding: [{ system: CHARGE_CODE_SYSTEM, code, display: name }], text: name };
}

/** 执行科室 as a `venue` use context, so both resources can be searched by department (`context=…`). */
function departmentContext(row: HisChargeItemRow): UsageContext[] | undefined {
  if (!row.deptCode && !row.deptName) return undefined;
  const coding = row.deptCode ? [{ system: HIS_DEPARTMENT_SYSTEM, code: row.deptCode, ...(row.deptName ? { display: row.deptName } : {}) }] : undefined;
  return [{
    code: { system: USAGE_CONTEXT_TYPE_SYSTEM, code: 'venue', display: 'Clinical Venue' },
    valueCodeableConcept: { ...(coding ? { coding } : {}), ...(row.deptName ? { text: row.deptName } : {}) },
  }];
}

/** What can be ordered: the catalogue entry front ends search (`title=xcg`, `name=XCG`, `topic=…|lab`). */
export function activityDefinition(row: HisChargeItemRow): ActivityDefinition {
  const venue = departmentContext(row);
  return {
    resourceType: 'ActivityDefinition',
    extension: [{ url: SPECIAL_ITEM_EXTENSION, valueBoolean: row.special }],
    url: activityDefinitionUrl(row.code),
    identifier: [{ system: CHARGE_CODE_SYSTEM, value: row.code }],
    // R4 wants a computer-friendly name: the HIS's own 拼音码 is exactly that, and what its staff type to find the item.
    ...(row.pinyin ? { name: row.pinyin.toUpperCase() } : {}),
    title: row.name,
    status: row.status === 'active' ? 'active' : 'retired',
    ...(venue ? { useContext: venue } : {}),
    topic: [{ coding: [{ system: CHARGE_CATEGORY_SYSTEM, code: row.category, display: CHARGE_CATEGORIES[row.category] }], text: CHARGE_CATEGORIES[row.category] }],
    ...(row.precautions ? { usage: row.precautions } : {}),
    relatedArtifact: [{ type: 'depends-on', display: '收费标准', resource: chargeItemDefinitionUrl(row.code) }],
    kind: 'ServiceRequest',
    code: chargeItemCode(row.code, row.name),
  };
}

/** A price as the HIS keeps it: 元 text for one unit of the item. */
export interface ItemPrice {
  code: string;
  name: string;
  price: string;
  unit: string;
  active: boolean;
}

/** What an item costs: one base price component per unit, Money in 分 (money.ts). */
export function priceDefinition(p: ItemPrice): ChargeItemDefinition {
  const fen = fenOfYuan(p.price);
  // The row schemas admit only amounts fenOfYuan reads; a failure here is a programming error, not bad input.
  if (fen === undefined) throw new Error(`price ${p.price} is not an amount`);
  return {
    resourceType: 'ChargeItemDefinition',
    url: chargeItemDefinitionUrl(p.code),
    identifier: [{ system: CHARGE_CODE_SYSTEM, value: p.code }],
    title: p.name,
    status: p.active ? 'active' : 'retired',
    code: chargeItemCode(p.code, p.name),
    propertyGroup: [{ priceComponent: [{ type: 'base', code: { text: p.unit }, amount: money(fen) }] }],
  };
}

/** A catalogue item's price, pointing back at its ActivityDefinition, with its 执行科室. */
export function chargeItemDefinition(row: HisChargeItemRow): ChargeItemDefinition {
  const { resourceType, url, identifier, title, status, ...rest } = priceDefinition({ ...row, active: row.status === 'active' });
  const venue = departmentContext(row);
  return { resourceType, url, identifier, title, derivedFromUri: [activityDefinitionUrl(row.code)], status, ...(venue ? { useContext: venue } : {}), ...rest };
}

/** Both resources of one catalogue row, each a conditional update on the 收费项目 code. */
export function chargeItemEntries(row: HisChargeItemRow): BundleEntry[] {
  const search = `identifier=${identifierToken(CHARGE_CODE_SYSTEM, row.code)}`;
  return [conditionalUpdate(activityDefinition(row), search), conditionalUpdate(chargeItemDefinition(row), search)];
}
