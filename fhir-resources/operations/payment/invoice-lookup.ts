import { Operator } from '@medplum/core';
import type { Invoice } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository';

/** The Invoice carrying an identifier (out_trade_no, checkout key, pickup code): each names at most one. */
export async function findInvoice(elevated: Repository, system: string, value: string): Promise<Invoice | undefined> {
  const found = await elevated.search({ resourceType: 'Invoice', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${system}|${value}` }], count: 2 });
  return found.resources[0] as Invoice | undefined;
}
