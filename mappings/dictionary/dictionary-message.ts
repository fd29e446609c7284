import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { zodOutcome } from '../medtech-booking/zod-outcome';
import { chargeItemEntries } from './charge-item';
import { dictionaryMessageSchema } from './dictionary-rows';
import { drugDatabaseEntry, drugEntries, hisDrugEntries } from './drug';

/**
 * One dictionary row → a transaction of conditional updates: ActivityDefinition + ChargeItemDefinition for a 收费项目,
 * Medication + MedicationKnowledge for a drug (and a ChargeItemDefinition for a HIS drug with a price). A stopped or withdrawn row is written as retired / inactive, never
 * deleted: orders and charges made while it was in use still point at it.
 */
export function dictionaryRowToBundle(content: string): Bundle | OperationOutcome {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    return zodOutcome([{ path: [], message: `not JSON: ${(err as Error).message}` }]);
  }
  const parsed = dictionaryMessageSchema.safeParse(json);
  if (!parsed.success) return zodOutcome(parsed.error.issues);
  const m = parsed.data;
  const entry = m.feed === 'his-charge-items' ? chargeItemEntries(m.row)
    : m.feed === 'his-drugs' ? hisDrugEntries(m.row)
      : drugEntries(drugDatabaseEntry(m.row));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}
