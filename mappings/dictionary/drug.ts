import type { BundleEntry, DocumentReference, Medication, MedicationKnowledge, Organization, Quantity } from '@medplum/fhirtypes';
import { conditionalUpdate, identifierToken } from '../hl7v3/transaction-entries';
import { priceDefinition } from './charge-item';
import type { DrugDatabaseRow, HisDrugRow } from './dictionary-rows';
import { APPROVAL_NUMBER_SYSTEM, CHARGE_CODE_SYSTEM, DRUG_DATABASE_CODE_SYSTEM, DRUG_SPECIFICATION_EXTENSION } from './dictionary-vocabulary';

/** A drug as both sources describe it, before it becomes FHIR. */
export interface DrugEntry {
  system: string;
  code: string;
  name: string;
  genericName?: string;
  tradeName?: string;
  spec?: string;
  form?: string;
  /** The pack it is sold in (盒). */
  packUnit: string;
  manufacturer?: string;
  approvalNo?: string;
  /** 说明书 text, sections as 【标题】 paragraphs the way Chinese package inserts print them. */
  insert?: string;
  indications?: string;
  dosage?: string;
  active: boolean;
}

export function hisDrugEntry(row: HisDrugRow): DrugEntry {
  return {
    system: CHARGE_CODE_SYSTEM, code: row.code, name: row.name, genericName: row.genericName, spec: row.spec, form: row.form,
    packUnit: row.unit, manufacturer: row.manufacturer, approvalNo: row.approvalNo, insert: row.insert, active: row.status === 'active',
  };
}

const INSERT_SECTIONS = [['indications', '适应症'], ['dosage', '用法用量'], ['adverseReactions', '不良反应'], ['contraindications', '禁忌'], ['precautions', '注意事项'], ['storage', '贮藏']] as const;

export function drugDatabaseEntry(row: DrugDatabaseRow): DrugEntry {
  const sections = INSERT_SECTIONS.filter(([key]) => row.insert?.[key]?.trim()).map(([key, title]) => `【${title}】${row.insert![key]!.trim()}`);
  return {
    system: DRUG_DATABASE_CODE_SYSTEM, code: row.drugId, name: row.productName, genericName: row.genericName, tradeName: row.tradeName,
    spec: row.specification, form: row.dosageForm, packUnit: row.packUnit, manufacturer: row.manufacturer, approvalNo: row.approvalNo,
    ...(sections.length ? { insert: sections.join('\n') } : {}),
    indications: row.insert?.indications?.trim() || undefined, dosage: row.insert?.dosage?.trim() || undefined,
    active: row.status === 'normal' && !row.deleted,
  };
}

const UCUM: Record<string, string> = { mg: 'mg', g: 'g', μg: 'ug', ug: 'ug', ml: 'mL', mL: 'mL', IU: '[iU]' };

/** `0.25g*24粒` → 0.25 g in each of 24 粒; anything else is kept as text only (DRUG_SPECIFICATION_EXTENSION). */
export function readSpecification(spec: string | undefined): { strength: Quantity; count: number; countUnit: string } | undefined {
  const m = /^(\d+(?:\.\d+)?)(mg|g|μg|ug|ml|mL|IU)\s*[*×xX]\s*(\d+)\s*(片|粒|袋|支|瓶|丸|贴|枚|包)$/.exec(spec ?? '');
  if (!m) return undefined;
  return { strength: { value: Number(m[1]), unit: m[2], system: 'http://unitsofmeasure.org', code: UCUM[m[2]] }, count: Number(m[3]), countUnit: m[4] };
}

const MANUFACTURER_ID = 'manufacturer';
const INSERT_ID = 'package-insert';

function manufacturer(d: DrugEntry): Organization[] {
  return d.manufacturer ? [{ resourceType: 'Organization', id: MANUFACTURER_ID, name: d.manufacturer }] : [];
}

const manufacturerRef = (d: DrugEntry) => (d.manufacturer ? { manufacturer: { reference: `#${MANUFACTURER_ID}`, display: d.manufacturer } } : {});
const specExtension = (d: DrugEntry) => (d.spec ? { extension: [{ url: DRUG_SPECIFICATION_EXTENSION, valueString: d.spec }] } : {});
const drugCode = (d: DrugEntry) => ({ coding: [{ system: d.system, code: d.code, display: d.name }], text: d.name });

/** The drug as orders and dispenses name it: `Medication?name=amxl` finds it. */
export function medication(d: DrugEntry): Medication {
  const spec = readSpecification(d.spec);
  return {
    resourceType: 'Medication',
    ...(d.manufacturer ? { contained: manufacturer(d) } : {}),
    ...specExtension(d),
    identifier: [{ system: d.system, value: d.code }, ...(d.approvalNo ? [{ system: APPROVAL_NUMBER_SYSTEM, value: d.approvalNo }] : [])],
    code: drugCode(d),
    status: d.active ? 'active' : 'inactive',
    ...manufacturerRef(d),
    ...(d.form ? { form: { text: d.form } } : {}),
    ...(spec ? {
      amount: { numerator: { value: spec.count, unit: spec.countUnit }, denominator: { value: 1, unit: d.packUnit } },
      ingredient: [{
        itemCodeableConcept: { text: d.genericName ?? d.name }, isActive: true,
        strength: { numerator: spec.strength, denominator: { value: 1, unit: spec.countUnit } },
      }],
    } : {}),
  };
}

/** What is known about the drug: names, pack, maker and the package insert (README.md, "drug dictionary"). */
export function medicationKnowledge(d: DrugEntry): MedicationKnowledge {
  const spec = readSpecification(d.spec);
  const insert: DocumentReference | undefined = d.insert ? {
    resourceType: 'DocumentReference', id: INSERT_ID, status: 'current', description: `${d.name}说明书`,
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', language: 'zh-CN', title: '药品说明书', data: Buffer.from(d.insert, 'utf8').toString('base64') } }],
  } : undefined;
  const synonyms = [...new Set([d.genericName, d.tradeName].filter((s): s is string => Boolean(s) && s !== d.name))];
  return {
    resourceType: 'MedicationKnowledge',
    ...(d.manufacturer || insert ? { contained: [...manufacturer(d), ...(insert ? [insert] : [])] } : {}),
    ...specExtension(d),
    code: drugCode(d),
    status: d.active ? 'active' : 'inactive',
    ...manufacturerRef(d),
    ...(d.form ? { doseForm: { text: d.form } } : {}),
    ...(spec ? { amount: { value: spec.count, unit: spec.countUnit } } : {}),
    ...(synonyms.length ? { synonym: synonyms } : {}),
    ...(insert ? { monograph: [{ type: { text: '药品说明书' }, source: { reference: `#${INSERT_ID}` } }] } : {}),
    ...(d.indications || d.dosage ? {
      administrationGuidelines: [{
        ...(d.dosage ? { dosage: [{ type: { text: '用法用量' }, dosage: [{ text: d.dosage }] }] } : {}),
        ...(d.indications ? { indicationCodeableConcept: { text: d.indications } } : {}),
      }],
    } : {}),
    packaging: { type: { text: d.packUnit }, ...(spec ? { quantity: { value: spec.count, unit: spec.countUnit } } : {}) },
  };
}

/**
 * Medication keyed by its source code (an identifier), MedicationKnowledge by the same code (R4 gives it no
 * identifier); the two are tied by that shared code, as R4 intends, rather than by a reference that would make the
 * knowledge change whenever the Medication's id did.
 */
export function drugEntries(d: DrugEntry): BundleEntry[] {
  const token = identifierToken(d.system, d.code);
  return [conditionalUpdate(medication(d), `identifier=${token}`), conditionalUpdate(medicationKnowledge(d), `code=${token}`)];
}

/** A HIS drug is a 收费项目 too: with its price it also gets a ChargeItemDefinition, per pack, as drug orders are charged. */
export function hisDrugEntries(row: HisDrugRow): BundleEntry[] {
  const entries = drugEntries(hisDrugEntry(row));
  if (!row.price) return entries;
  const price = priceDefinition({ code: row.code, name: row.name, price: row.price, unit: row.unit, active: row.status === 'active' });
  return [...entries, conditionalUpdate(price, `identifier=${identifierToken(CHARGE_CODE_SYSTEM, row.code)}`)];
}
