import { parseSearchRequest } from '@medplum/core';
import type { Appointment, ChargeItem, DiagnosticReport, Invoice, MedicationDispense, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import {
  CHARGE_STATUS, CIRCULATION_STATUS, REFUNDED_AMOUNT_EXTENSION, TASK_BUSINESS_STATUS_SYSTEM, TASK_CODE, TASK_CODE_SYSTEM,
} from '../../billing/billing-vocabulary';
import { fenOf, yuanText } from '../../billing/money';
import type { Repository } from '../../store/repository';
import { holdsItems, OPEN_REFUND_STATES, refundAmountOf, refundItemsOf } from './refund-task';

/**
 * Which lines of a paid Invoice may still be refunded, and how much of it is left. A line may be refunded while its
 * ChargeItem is `billed` and what it paid for has not been handed over or done:
 *  - a drug (service → MedicationRequest): no MedicationDispense `in-progress` or `completed` for it, and the
 *    Invoice's circulation Task not `delivering` / `picked-up` (the drugs have left the pharmacy);
 *  - an order (service → ServiceRequest): not `completed`, no DiagnosticReport based on it (a result exists), and no
 *    Appointment for it that was attended (`arrived`, `checked-in`, `fulfilled`) or is `booked` for a time already
 *    past (the hospital has not said whether it was done; the window decides). A booking still ahead must be
 *    cancelled first ($cancel-booking), so the slot goes back to others before the money goes back to the patient.
 * And it is not held by another refund Task that is open (待审核, 退款中) or succeeded.
 */

export interface InvoiceLine {
  /** `ChargeItem/<id>`. */
  reference: string;
  amountFen: number;
}

export interface InvoiceRefunds {
  tasks: Task[];
  totalFen: number;
  refundedFen: number;
  /** Asked for by open refund Tasks (待审核, 退款中), not refunded yet. */
  inFlightFen: number;
  leftFen: number;
  /** Items of open or succeeded refund Tasks. */
  held: Set<string>;
}

const all = async <T extends Resource>(repo: Repository, query: string): Promise<T[]> =>
  (await repo.search(parseSearchRequest(`${query}&_count=1000`))).resources as T[];

export function chargeItemRef(reference: string | undefined): string | undefined {
  const m = reference ? /(?:^|\/)ChargeItem\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference) : null;
  return m ? `ChargeItem/${m[1]}` : undefined;
}

/** The Invoice's lines with the amount each was charged in it (its base price component, else the ChargeItem's). */
export function invoiceLines(invoice: Invoice): InvoiceLine[] {
  return (invoice.lineItem ?? []).flatMap((line) => {
    const reference = chargeItemRef(line.chargeItemReference?.reference);
    if (!reference) return [];
    const base = line.priceComponent?.find((c) => c.type === 'base') ?? line.priceComponent?.[0];
    return [{ reference, amountFen: fenOf(base?.amount) ?? -1 }];
  });
}

export function refundTasksOf(repo: Repository, invoiceId: string): Promise<Task[]> {
  return all<Task>(repo, `Task?focus=Invoice/${invoiceId}&code=${encodeURIComponent(`${TASK_CODE_SYSTEM}|${TASK_CODE.refund}`)}`);
}

export function invoiceRefunds(invoice: Invoice, tasks: Task[]): InvoiceRefunds {
  const totalFen = fenOf(invoice.totalNet) ?? 0;
  const refundedFen = fenOf(invoice.extension?.find((e) => e.url === REFUNDED_AMOUNT_EXTENSION)?.valueMoney) ?? 0;
  const inFlightFen = tasks.filter((t) => OPEN_REFUND_STATES.has(t.status)).reduce((sum, t) => sum + refundAmountOf(t), 0);
  const held = new Set(tasks.filter(holdsItems).flatMap(refundItemsOf));
  return { tasks, totalFen, refundedFen, inFlightFen, leftFen: totalFen - refundedFen - inFlightFen, held };
}

export function itemLabel(item: ChargeItem | undefined, reference: string): string {
  const name = item?.code?.text ?? item?.code?.coding?.find((c) => c.display)?.display;
  return name ? `「${name}」（${reference}）` : reference;
}

/** Why this ChargeItem cannot be refunded now (zh-CN, for the caller), or undefined when it can. */
export async function refusalOf(repo: Repository, item: ChargeItem, reference: string, refunds: InvoiceRefunds, circulation: Task[]): Promise<string | undefined> {
  const label = itemLabel(item, reference);
  if (refunds.held.has(reference)) return `${label}已在另一笔退费申请中或已退费`;
  if (item.status !== CHARGE_STATUS.paid) {
    const states: Record<string, string> = { [CHARGE_STATUS.unpaid]: '尚未缴费', [CHARGE_STATUS.refunded]: '已退费', [CHARGE_STATUS.cancelled]: '已作废' };
    const state = states[item.status] ?? `状态为 ${item.status}`;
    return `${label}${state}，不能退费`;
  }
  const service = item.service?.find((s) => s.reference?.startsWith('MedicationRequest/') || s.reference?.startsWith('ServiceRequest/'))?.reference;
  if (service?.startsWith('MedicationRequest/')) return drugRefusal(repo, service, label, circulation);
  if (service?.startsWith('ServiceRequest/')) return orderRefusal(repo, service, label);
  return undefined;
}

async function drugRefusal(repo: Repository, prescription: string, label: string, circulation: Task[]): Promise<string | undefined> {
  const dispenses = await all<MedicationDispense>(repo, `MedicationDispense?prescription=${prescription}`);
  if (dispenses.some((d) => d.status === 'completed' || d.status === 'in-progress')) return `${label}已发药，不能退费`;
  for (const task of circulation) {
    const covers = !task.basedOn?.length || task.basedOn.some((b) => b.reference === prescription);
    const state = task.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS_SYSTEM)?.code;
    if (covers && (state === 'picked-up' || state === 'delivering')) return `${label}${CIRCULATION_STATUS[state]}，不能退费`;
  }
  return undefined;
}

async function orderRefusal(repo: Repository, order: string, label: string): Promise<string | undefined> {
  const request = await repo.read<ServiceRequest>('ServiceRequest', order.split('/')[1]).catch(() => undefined);
  if (request?.status === 'completed') return `${label}已执行，不能退费`;
  const reports = await all<DiagnosticReport>(repo, `DiagnosticReport?based-on=${order}`);
  if (reports.some((r) => r.status !== 'cancelled' && r.status !== 'entered-in-error')) return `${label}已出报告，不能退费`;
  const appointments = await all<Appointment>(repo, `Appointment?based-on=${order}`);
  if (appointments.some((a) => ['arrived', 'checked-in', 'fulfilled'].includes(a.status))) return `${label}已到检，不能退费`;
  const now = Date.now();
  for (const a of appointments.filter((x) => x.status === 'booked')) {
    if (a.start && Date.parse(a.start) <= now) return `${label}的预约时间已过，请到窗口办理退费`;
    return `${label}已预约${a.start ? `（${a.start.slice(0, 16).replace('T', ' ')}）` : ''}，请先取消预约再申请退费`;
  }
  return undefined;
}

/** The Invoice's circulation Tasks (prescriptions sent to a pharmacy). */
export function circulationTasksOf(repo: Repository, invoiceId: string): Promise<Task[]> {
  return all<Task>(repo, `Task?focus=Invoice/${invoiceId}&code=${encodeURIComponent(`${TASK_CODE_SYSTEM}|${TASK_CODE.circulation}`)}`);
}

export const yuan = (fen: number): string => `${yuanText(fen)} 元`;
