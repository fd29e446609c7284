import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Knex } from 'knex';
import type { RowRestriction } from '../store/repository';
import type { IndexPrivacy } from './index-privacy';

/**
 * State of one search while its SQL is built: the connection, fresh table aliases for nested subqueries, and what
 * to do with a parameter or modifier this server does not support (strict → 400, lenient → ignored with a warning).
 */
export class SearchContext {
  readonly warnings: OperationOutcomeIssue[] = [];
  /** Codes by system of the value sets `:in` / `:not-in` name, read before the SQL is built (value-set-codes.ts). */
  readonly valueSets = new Map<string, Map<string, Set<string>>>();
  /**
   * The driving subquery over one index table (`resource_id` of the candidates) when a filter of this search's own
   * rows became it; later filters of those rows are added to it (filter-conditions, `exists`).
   */
  driving?: { query: Knex.QueryBuilder; alias: string };
  private aliases = 0;
  private driverTaken = false;

  constructor(
    readonly db: Knex | Knex.Transaction,
    readonly strict: boolean,
    /** The caller's access restriction, applied to every fhir_resources row the search touches. */
    readonly restriction?: RowRestriction,
    readonly privacy?: IndexPrivacy,
    /** The alias of the rows the search returns. */
    readonly driverAlias = 'r',
  ) {}

  /** Narrows `query` (over fhir_resources aliased `alias`, rows of `resourceType`) to what the caller may see. */
  restrict(query: Knex.QueryBuilder, resourceType: string, alias: string): void {
    this.restriction?.(this.db, query, resourceType, alias);
  }

  /**
   * True once, for the first positive filter on the search's own rows (`driverAlias`): that filter is written as an
   * uncorrelated IN that the query starts from (see filter-conditions, `exists`).
   */
  takeDriver(alias: string): boolean {
    if (this.driverTaken || alias !== this.driverAlias) return false;
    this.driverTaken = true;
    return true;
  }

  /**
   * Makes `sub` (resource ids from one index table, aliased `alias`) the driving subquery of `query`'s rows
   * (`outer`): `outer.id IN (sub)`, and later filters of those rows go inside it.
   */
  drive(query: Knex.QueryBuilder, outer: string, sub: Knex.QueryBuilder, alias: string): void {
    query.whereIn(`${outer}.id`, sub);
    this.driving = { query: sub, alias };
  }

  alias(prefix = 'x'): string {
    this.aliases += 1;
    return `${prefix}${this.aliases}`;
  }

  /** Reports an unusable parameter; returns normally only under lenient handling, the caller then skips it. */
  reject(parameter: string, diagnostics: string): void {
    if (this.strict) throw invalidSearchValue(parameter, diagnostics);
    this.warnings.push({ severity: 'warning', code: 'not-supported', diagnostics: `${diagnostics}; it was ignored`, expression: [parameter] });
  }
}

/** A client error in a search value (bad date, bad cursor): always a 400, whatever the handling preference. */
export function invalidSearchValue(parameter: string, diagnostics: string): OperationOutcomeError {
  const outcome = badRequest(diagnostics, parameter);
  // badRequest puts the words in details.text; clients and logs read diagnostics.
  outcome.issue = outcome.issue?.map((issue) => ({ ...issue, diagnostics }));
  return new OperationOutcomeError(outcome);
}
