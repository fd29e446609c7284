import { drugDatabaseFeed, hisDictionaryFeed } from '../adapters/dictionary/dictionary-clients';
import { dictionarySyncSource } from '../adapters/dictionary/dictionary-sync-source';
import { fhirTransaction } from '../adapters/fhir/fhir-transaction-destination';
import { dropUnchanged } from '../adapters/fhir/unchanged-entries';
import { channel, type ChannelDefinition } from '../engine/channel/channel';
import { dictionaryRowToBundle } from '../mappings/dictionary/dictionary-message';
import type { ChannelDeps } from './channel-deps';
import { jsonMapping } from './json-steps';

/**
 * The HIS's 收费项目 catalogue (and its 药品字典) kept in step on a schedule: each item as an ActivityDefinition (what
 * can be ordered, searched by name and pinyin) and a ChargeItemDefinition (its price in 分); each drug as a Medication
 * and a MedicationKnowledge. Only what changed is written (mappings/dictionary/README.md).
 */
export function hisChargeItems({ hospital, fhir, db }: ChannelDeps): ChannelDefinition {
  const c = hospital.channels.hisChargeItems;
  const client = { url: c.url, pageSize: c.pageSize, timeoutMs: c.timeoutMs };
  return channel({
    id: 'his-charge-items',
    description: 'HIS 收费项目 / 药品字典 → ActivityDefinition + ChargeItemDefinition, Medication + MedicationKnowledge (scheduled sync)',
    source: dictionarySyncSource(db, {
      feeds: [hisDictionaryFeed('his-charge-items', client), ...(c.drugs ? [hisDictionaryFeed('his-drugs', client)] : [])],
      incrementalCron: c.incrementalCron, fullCron: c.fullCron,
    }),
    transformer: jsonMapping(dictionaryRowToBundle),
    destinations: [{ name: 'fhir-store', connector: fhirTransaction(fhir, { prepare: dropUnchanged }) }],
  });
}

/** A third-party drug database's 药品字典 and 说明书, kept in step on a schedule as Medication + MedicationKnowledge. */
export function drugDatabase({ hospital, fhir, db }: ChannelDeps): ChannelDefinition {
  const c = hospital.channels.drugDatabase;
  return channel({
    id: 'drug-database',
    description: '第三方药品数据库 药品字典 + 说明书 → Medication + MedicationKnowledge (scheduled sync)',
    source: dictionarySyncSource(db, {
      feeds: [drugDatabaseFeed({ url: c.url, apiKey: c.apiKey, pageSize: c.pageSize, timeoutMs: c.timeoutMs })],
      incrementalCron: c.incrementalCron, fullCron: c.fullCron,
    }),
    transformer: jsonMapping(dictionaryRowToBundle),
    destinations: [{ name: 'fhir-store', connector: fhirTransaction(fhir, { prepare: dropUnchanged }) }],
  });
}
