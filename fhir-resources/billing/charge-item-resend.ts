import { parseSearchRequest } from '@medplum/core';
import type { Bundle, BundleEntry, ChargeItem } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository';
import { CHARGE_LOCK_EXTENSION, CHARGE_STATUS } from './billing-vocabulary';

/**
 * The HIS owns what an order costs; Lingshu owns whether it was paid online. A HIS message that resends an order
 * still marked 未收费 (a 医嘱更新, a retry) must not put back to `billable` a ChargeItem paid in Lingshu before the
 * HIS has booked the 收费, nor drop the lock of a payment under way. So, in the transaction that writes the message,
 * an incoming `billable` line keeps the stored payment state (status and lock) of the ChargeItem it updates; any
 * other status from the HIS (paid or refunded at its window, order cancelled) is a fact and is written as sent.
 */
export async function keepPaymentState(repo: Repository, bundle: Bundle): Promise<Bundle> {
  // One entry after the other: the searches share the transaction's connection.
  const entry: BundleEntry[] = [];
  for (const e of bundle.entry ?? []) entry.push(await keptEntry(repo, e));
  return { ...bundle, entry };
}

async function keptEntry(repo: Repository, e: BundleEntry): Promise<BundleEntry> {
  const incoming = e.resource as ChargeItem | undefined;
  const url = e.request?.url ?? '';
  if (incoming?.resourceType !== 'ChargeItem' || e.request?.method !== 'PUT' || !url.startsWith('ChargeItem?') || incoming.status !== CHARGE_STATUS.unpaid) return e;
  const found = await repo.search(parseSearchRequest(url));
  const stored = found.resources[0] as ChargeItem | undefined;
  if (!stored) return e;
  const lock = stored.extension?.filter((x) => x.url === CHARGE_LOCK_EXTENSION) ?? [];
  if (stored.status === CHARGE_STATUS.unpaid && lock.length === 0) return e;
  const extension = [...(incoming.extension ?? []).filter((x) => x.url !== CHARGE_LOCK_EXTENSION), ...lock];
  return { ...e, resource: { ...incoming, status: stored.status, ...(extension.length ? { extension } : {}) } };
}
