import { OperationOutcomeError, operationOutcomeToString } from '@medplum/core';
import type { ChargeItem, Invoice, MedicationRequest, Task } from '@medplum/fhirtypes';
import { PRESCRIPTION_NO_SYSTEM } from '../../billing/billing-vocabulary';
import type { Repository } from '../../store/repository';
import { invoiceLines } from './refundable-items';
import type { RefundChannels } from './refund-sending';
import { requestRefund } from './request-refund';

export const EXPIRY_REFUND_REASON = '处方超过有效期未取药，系统自动申请退费';

/**
 * A circulated prescription the patient did not pick up in time was paid for: the hospital asks for the refund of its
 * drugs itself, through the same request as `$request-refund` (so the same checks, and the operator still approves).
 * Drugs that may not be refunded (handed over meanwhile, already held by the patient's own request) are left out;
 * nothing left is an answer, not an error, which is what makes asking twice harmless.
 */
export async function requestExpiryRefund(elevated: Repository, channels: Pick<RefundChannels, 'gateways'>, circulation: Task, rxNos: string[]): Promise<string> {
  const [type, invoiceId] = (circulation.focus?.reference ?? '').split('/');
  if (type !== 'Invoice' || !invoiceId) return `Task/${circulation.id} has no Invoice to refund`;
  const invoice = await elevated.read<Invoice>('Invoice', invoiceId);
  const expired = new Set<string>();
  for (const b of circulation.basedOn ?? []) {
    const [t, id] = (b.reference ?? '').split('/');
    if (t !== 'MedicationRequest' || !id) continue;
    const request = await elevated.read<MedicationRequest>('MedicationRequest', id).catch(() => undefined);
    const rxNo = request?.groupIdentifier?.system === PRESCRIPTION_NO_SYSTEM ? request.groupIdentifier.value : undefined;
    if (rxNo && rxNos.includes(rxNo)) expired.add(`MedicationRequest/${id}`);
  }
  const named: { reference: string; index: number }[] = [];
  for (const line of invoiceLines(invoice)) {
    const item = await elevated.read<ChargeItem>('ChargeItem', line.reference.split('/')[1]).catch(() => undefined);
    if (item?.service?.some((s) => s.reference && expired.has(s.reference))) named.push({ reference: line.reference, index: named.length });
  }
  if (!named.length) return `Invoice/${invoiceId}: no charge lines for ${rxNos.join(', ')}`;
  try {
    const task = await requestRefund(elevated, channels, {
      invoice, named, reason: EXPIRY_REFUND_REASON, requester: { display: 'system:circulation-expiry' }, by: 'circulation-expiry', skipRefused: true,
    });
    return `refund Task/${task.id} requested for ${named.length} item(s) of Invoice/${invoiceId}`;
  } catch (err) {
    if (err instanceof OperationOutcomeError) return `no refund requested for Invoice/${invoiceId}: ${operationOutcomeToString(err.outcome)}`;
    throw err;
  }
}
