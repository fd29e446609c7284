import { isResourceType, Operator, parseSearchRequest, type Filter, type SearchRequest } from '@medplum/core';
import { searchParameter } from './search-parameters';

/**
 * A FHIR search query as a SearchRequest: @medplum/core's parser, except for date values and typed references. That parser refuses
 * dateTimes without seconds (`date=ge2026-11-25T10:30`), which R4 allows: a search value may have any precision of
 * its type, and the precision is the range it stands for (R4 search §3.1.1.4.6, value-ranges.ts). Date parameters
 * are taken out before it parses the rest and read here; their values are checked where the range is computed, so a
 * malformed one is still a 400 with the parameter named.
 */
type Query = Record<string, string | string[] | undefined>;

const PREFIX = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d+-])/;

function isDateParameter(resourceType: string, code: string): boolean {
  return code === '_lastUpdated' || searchParameter(resourceType, code)?.type === 'date';
}

/**
 * `subject:Patient=23` means `subject=Patient/23` (R4 search §3.1.1.4.9); @medplum/core's parser drops the type and
 * would match a Group/23 too.
 */
function typedReference(resourceType: string, code: string, modifier: string): boolean {
  return /^[A-Z][A-Za-z]+$/.test(modifier) && isResourceType(modifier) && searchParameter(resourceType, code)?.type === 'reference';
}

/** The filter of one date parameter, prefix split off the (first) value as @medplum/core does for other types. */
function dateFilter(code: string, modifier: string, value: string): Filter {
  if (modifier) return { code, operator: modifier as Operator, value };
  const m = PREFIX.exec(value);
  return m ? { code, operator: m[1] as Operator, value: value.slice(2) } : { code, operator: Operator.EQUALS, value };
}

export function parseFhirSearch(resourceType: string, query: Query): SearchRequest {
  const rest: Query = {};
  const dates: Filter[] = [];
  for (const [key, raw] of Object.entries(query)) {
    const colon = key.indexOf(':');
    const code = colon < 0 ? key : key.slice(0, colon);
    const modifier = colon < 0 ? '' : key.slice(colon + 1);
    if (!key.includes('.') && typedReference(resourceType, code, modifier)) {
      const typed = ([] as string[]).concat(raw ?? []).map((v) => v.split(',').map((id) => (id.includes('/') ? id : `${modifier}/${id}`)).join(','));
      rest[code] = ([] as string[]).concat(rest[code] ?? [], typed);
      continue;
    }
    // `:missing` is handled alike for every type; anything else on a date goes to the filter builder, which knows it.
    if (modifier === 'missing' || key.includes('.') || code.startsWith('_has') || !isDateParameter(resourceType, code)) {
      rest[key] = raw;
      continue;
    }
    for (const value of ([] as string[]).concat(raw ?? [])) dates.push(dateFilter(code, modifier, value));
  }
  const request = parseSearchRequest(resourceType, rest);
  if (dates.length) request.filters = [...(request.filters ?? []), ...dates];
  return request;
}

/** `Type?a=1&b=2` (or `Type` alone) → the SearchRequest, repeated keys kept. */
export function parseFhirSearchUrl(url: string): SearchRequest {
  const q = url.indexOf('?');
  const type = q < 0 ? url : url.slice(0, q);
  const query: Record<string, string[]> = {};
  new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).forEach((v, k) => (query[k] ??= []).push(v));
  return parseFhirSearch(type, query);
}
