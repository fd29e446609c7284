import type { ChargeItem, Task } from '@medplum/fhirtypes';
import { childLogger } from '../../../engine/logger';
import type { Repository } from '../../store/repository';
import { circulationTasksOf } from './refundable-items';
import { outRefundNoOf, refundItemsOf } from './refund-task';
import { changeVersioned } from './versioned-change';

const log = childLogger({ component: 'refunds' });

/** Circulation states after which there is nothing left to call back at the pharmacy. */
const FINISHED = new Set(['cancelled', 'completed', 'rejected', 'failed', 'entered-in-error']);

/**
 * Once a refund of drugs is approved the pharmacy must not hand them over: the Invoice's circulation Task that covers
 * any refunded MedicationRequest (or the whole Invoice, when it names none) becomes `cancelled`, and the circulation
 * channel calls the prescription back (撤销) at the platform or pharmacy. A prescription is circulated whole, so
 * refunding one of its drugs cancels it all. Doing it on approval rather than on the gateway's SUCCESS closes the
 * window (hours, for refunds to bank cards) in which the drugs could still be picked up. Idempotent.
 */
export async function cancelCirculationFor(repo: Repository, refund: Task, invoiceId: string): Promise<void> {
  const prescriptions = new Set<string>();
  for (const ref of refundItemsOf(refund)) {
    const item = await repo.read<ChargeItem>('ChargeItem', ref.split('/')[1]).catch(() => undefined);
    for (const s of item?.service ?? []) if (s.reference?.startsWith('MedicationRequest/')) prescriptions.add(s.reference);
  }
  if (prescriptions.size === 0) return;
  for (const task of await circulationTasksOf(repo, invoiceId)) {
    const covers = !task.basedOn?.length || task.basedOn.some((b) => b.reference && prescriptions.has(b.reference));
    if (!covers || FINISHED.has(task.status)) continue;
    const { changed } = await changeVersioned<Task>(repo, 'Task', task.id!, (current) => {
      if (FINISHED.has(current.status)) return undefined;
      const now = new Date().toISOString();
      return {
        ...current,
        status: 'cancelled',
        statusReason: { text: '处方药品退费，撤销流转' },
        lastModified: now,
        note: [...(current.note ?? []), { time: now, text: `退费 ${outRefundNoOf(refund) ?? refund.id} 已批准，撤销处方流转` }],
      };
    });
    if (!changed) continue;
    log.info('circulation cancelled for a refund', { task: `Task/${task.id}`, refund: `Task/${refund.id}` });
  }
}
