import { v7 as uuidv7 } from 'uuid';

/**
 * The id the store gives a created resource: a UUIDv7, whose leading bits are the creation time. Random (v4) ids put
 * every new row on a random leaf page of each index led by the id (fhir_resources' and fhir_history's keys, the index
 * tables' owner indexes, the reference index's targets), and once those indexes outgrow the database's buffers each
 * insert reads and later writes back a page of its own. Time-ordered ids land at the end, on pages already in memory:
 * the same reason the message store's ids are v7. The creation time they reveal is no more than `meta.lastUpdated`
 * of the first version tells.
 */
export function newResourceId(): string {
  return uuidv7();
}
