import type { Filter } from '@medplum/core';
import type { Knex } from 'knex';
import { compartmentParams } from '../auth/patient-compartment';
import { parseReferenceTarget } from './reference-target';
import { invalidSearchValue, SearchContext } from './search-context';
import { INDEX_TABLES } from './search-migrations';

/**
 * `_compartment=Patient/x`: the rows of one patient's compartment (R4 §3.2.2 compartment search,
 * `GET Patient/x/DiagnosticReport`). Membership is what the CompartmentDefinition says: a reference from one of the
 * type's compartment parameters to the patient, or the Patient itself. It is the same index lookup the access
 * restriction makes (auth/access-control), so "in x's compartment" means the same thing for both; the caller's
 * restriction is applied to the search as always, so a compartment the caller may not see is simply empty.
 */
export function applyCompartment(ctx: SearchContext, qb: Knex.QueryBuilder, resourceType: string, outer: string, filter: Filter): void {
  const target = parseReferenceTarget(filter.value);
  if (filter.operator !== 'eq' || !target || target.type !== 'Patient') {
    throw invalidSearchValue('_compartment', `_compartment takes one patient as Patient/<id> (got "${filter.value}")`);
  }
  const params = compartmentParams(resourceType);
  if (!params) throw invalidSearchValue('_compartment', `${resourceType} is not in the Patient compartment (http://hl7.org/fhir/R4/compartmentdefinition-patient.html)`);
  const a = ctx.alias('c');
  const members = ctx.db(`${INDEX_TABLES.reference} as ${a}`).select(`${a}.resource_id`)
    .where(`${a}.resource_type`, resourceType).whereIn(`${a}.param`, params.length ? params : ['-'])
    .where(`${a}.target_type`, 'Patient').where(`${a}.target_id`, target.id);
  // Uncorrelated, and taken as the query's driver when it can be: a chart's rows are few, the type's rows many.
  ctx.takeDriver(outer);
  if (resourceType === 'Patient') qb.where((w) => w.where(`${outer}.id`, target.id).orWhereIn(`${outer}.id`, members));
  else qb.whereIn(`${outer}.id`, members);
}
