import type { ChargeItem, Invoice } from '@medplum/fhirtypes';
import { INVOICE_STATUS } from '../../billing/billing-vocabulary';
import type { Repository } from '../../store/repository';
import { chargeItemRefs, withLock } from './invoice';
import { lockOf } from './bill-items';

/**
 * An unpaid Invoice given up (order closed, expired, or replaced by a new checkout of the same items): cancelled, and
 * its ChargeItems released so they can be paid again. Optimistic locking makes a payment arriving at the same time
 * win or lose cleanly against it.
 */
export async function cancelInvoice(elevated: Repository, invoice: Invoice, reason: string): Promise<Invoice> {
  if (invoice.status !== INVOICE_STATUS.awaitingPayment) return invoice;
  const ref = `Invoice/${invoice.id}`;
  const { resource } = await elevated.update<Invoice>({
    ...invoice, status: INVOICE_STATUS.cancelled, cancelledReason: reason,
  }, { ifMatch: invoice.meta?.versionId });
  for (const itemRef of chargeItemRefs(invoice)) {
    const item = await elevated.read<ChargeItem>('ChargeItem', itemRef.split('/')[1]);
    if (lockOf(item) === ref) await elevated.update(withLock(item, undefined), { ifMatch: item.meta?.versionId });
  }
  return resource;
}
