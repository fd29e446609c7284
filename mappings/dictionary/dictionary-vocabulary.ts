import { CHARGE_CODE_SYSTEM } from '../../fhir-resources/billing/billing-vocabulary';
import { LINGSHU_CANONICAL_BASE } from '../../fhir-resources/profiles/lingshu-canonical';

/**
 * The names the dictionary sync writes (README.md beside this file): where each source's codes live, and the few
 * extensions R4 lacks. HIS drugs are 收费项目 too — a drug order's MedicationRequest carries the same code — so they
 * share CHARGE_CODE_SYSTEM with the lab / exam / treatment catalogue.
 */
const sid = (name: string): string => `${LINGSHU_CANONICAL_BASE}/sid/${name}`;
const codeSystem = (name: string): string => `${LINGSHU_CANONICAL_BASE}/CodeSystem/${name}`;
const extension = (name: string): string => `${LINGSHU_CANONICAL_BASE}/StructureDefinition/${name}`;

export { CHARGE_CODE_SYSTEM };
/** The third-party drug database's own drug ids (药品编码). */
export const DRUG_DATABASE_CODE_SYSTEM = sid('drug-database');
/** 批准文号 (国药准字H…) as NMPA issues it; on Medication.identifier, not a key: one number covers several packs. */
export const APPROVAL_NUMBER_SYSTEM = sid('nmpa-approval-number');
/** The HIS's 科室 codes: the department that performs an item (执行科室). */
export const HIS_DEPARTMENT_SYSTEM = sid('his-department');
/** lab 检验, exam 检查, treatment 治疗 — the HIS catalogue's 项目类别. */
export const CHARGE_CATEGORY_SYSTEM = codeSystem('his-charge-category');
export const CHARGE_CATEGORIES = { lab: '检验', exam: '检查', treatment: '治疗' } as const;
export type ChargeCategory = keyof typeof CHARGE_CATEGORIES;

/** valueBoolean on ActivityDefinition: a 特殊项目, which a patient ordering for themselves must give a reason for. */
export const SPECIAL_ITEM_EXTENSION = extension('special-item');
/** valueString: the 规格 exactly as the source wrote it (0.25g*24粒), beside whatever of it could be read as numbers. */
export const DRUG_SPECIFICATION_EXTENSION = extension('drug-specification');

/** usage-context-type `venue`: where an item is performed, here the 执行科室. */
export const USAGE_CONTEXT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/usage-context-type';

/** Canonical URLs of one catalogue item's two resources, so each can name the other without knowing its id. */
export function activityDefinitionUrl(code: string): string {
  return `${LINGSHU_CANONICAL_BASE}/ActivityDefinition/his-charge-item-${code}`;
}

export function chargeItemDefinitionUrl(code: string): string {
  return `${LINGSHU_CANONICAL_BASE}/ChargeItemDefinition/his-charge-item-${code}`;
}
