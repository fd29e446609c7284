import type { ChargeItem, Extension, Invoice, MedicationDispense, MedicationRequest, Organization, Reference, Task } from '@medplum/fhirtypes';
import { Operator } from '@medplum/core';
import {
  CHARGE_STATUS, CIRCULATION_STATUS, CIRCULATION_TASK_SYSTEM, INVOICE_STATUS, OUT_TRADE_NO_SYSTEM, PHARMACY_EXTENSION,
  PICKUP_CODE_SYSTEM, REDEEMED_EXTENSION, TASK_BUSINESS_STATUS_SYSTEM,
} from '../../billing/billing-vocabulary';
import type { Repository } from '../../store/repository';
import { operation, resource, string } from '../operation';
import { badInput, notFoundHere, stateConflict } from '../workflow-outcomes';
import { findInvoice } from './invoice-lookup';
import { identifierOf, invoiceChargeItems } from './invoice';

/**
 * `POST /fhir/MedicationDispense/$redeem` with the pickup code (取药码) the patient shows at the hospital pharmacy
 * window: the drugs of that paid Invoice are handed over once — a MedicationDispense is written, the Invoice marked
 * redeemed (If-Match: of two windows scanning the same code at once, one wins) and the circulation Task completed.
 */
export const redeemOperation = operation({
  name: 'redeem',
  level: 'type',
  resourceType: 'MedicationDispense',
  description: '取药码核销：凭取药码发药，每个取药码只能核销一次',
  parameters: { pickupCode: string({ documentation: '取药码（8 位数字）' }) },
  output: { return: resource<MedicationDispense>('MedicationDispense') },
  async run(_repo, p, ctx) {
    const elevated = ctx.elevated;
    const code = p.pickupCode.trim();
    if (!/^\d{6,12}$/.test(code)) throw badInput('取药码格式不正确', "Parameters.parameter.where(name = 'pickupCode')");
    const invoice = await findInvoice(elevated, PICKUP_CODE_SYSTEM, code);
    if (!invoice) throw notFoundHere(`取药码 ${code} 不存在`, "Parameters.parameter.where(name = 'pickupCode')");
    const redeemed = invoice.extension?.find((e) => e.url === REDEEMED_EXTENSION)?.valueDateTime;
    if (redeemed) throw stateConflict(`取药码 ${code} 已于 ${redeemed} 核销，不能重复取药`);
    if (invoice.status !== INVOICE_STATUS.paid) throw stateConflict(`取药码 ${code} 对应的账单未支付`);
    const items = await invoiceChargeItems(elevated, invoice);
    const drugs = items.filter((c) => c.status === CHARGE_STATUS.paid && c.service?.some((s) => s.reference?.startsWith('MedicationRequest/')));
    if (drugs.length === 0) throw stateConflict(`取药码 ${code} 没有可发放的药品（可能已退费）`);
    const now = new Date().toISOString();
    const mark: Extension = { url: REDEEMED_EXTENSION, valueDateTime: now };
    await elevated.update<Invoice>({ ...invoice, extension: [...(invoice.extension ?? []), mark] }, { ifMatch: invoice.meta?.versionId })
      .catch((err: unknown) => { throw (err as { outcome?: { id?: string } }).outcome?.id === 'precondition-failed' ? stateConflict(`取药码 ${code} 正在另一窗口核销`) : err; });
    const prescriptions = [...new Set(drugs.flatMap((c) => c.service ?? []).map((s) => s.reference!).filter((r) => r.startsWith('MedicationRequest/')))];
    const first = await elevated.read<MedicationRequest>('MedicationRequest', prescriptions[0].split('/')[1]);
    const pharmacy = invoice.extension?.find((e) => e.url === PHARMACY_EXTENSION)?.valueReference;
    const { resource: dispense } = await elevated.create<MedicationDispense>({
      resourceType: 'MedicationDispense',
      identifier: [{ system: PICKUP_CODE_SYSTEM, value: code }],
      status: 'completed',
      medicationCodeableConcept: first.medicationCodeableConcept ?? { text: drugs.map((d) => d.code?.text).filter(Boolean).join('、') },
      subject: invoice.subject,
      authorizingPrescription: prescriptions.map((reference) => ({ reference })),
      ...(pharmacy ? { performer: [{ actor: pharmacy as Reference<Organization> }] } : {}),
      whenHandedOver: now,
      note: [{ text: `凭取药码 ${code} 窗口取药，账单 ${identifierOf(invoice, OUT_TRADE_NO_SYSTEM)}`, time: now, authorString: ctx.caller.reference }],
    });
    await completeCirculation(elevated, identifierOf(invoice, OUT_TRADE_NO_SYSTEM), now);
    return { return: dispense };
  },
});

/** The prescription's circulation ends here: picked up at the window. */
async function completeCirculation(elevated: Repository, outTradeNo: string | undefined, at: string): Promise<void> {
  if (!outTradeNo) return;
  const found = await elevated.search({ resourceType: 'Task', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${CIRCULATION_TASK_SYSTEM}|${outTradeNo}` }], count: 1 });
  const task = found.resources[0] as Task | undefined;
  if (!task || task.status === 'completed' || task.status === 'cancelled') return;
  await elevated.update<Task>({
    ...task, status: 'completed', lastModified: at,
    businessStatus: { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code: 'picked-up', display: CIRCULATION_STATUS['picked-up'] }], text: CIRCULATION_STATUS['picked-up'] },
  }, { ifMatch: task.meta?.versionId });
}
