import type { Resource } from '@medplum/fhirtypes';

/** `W/"3"` (or `"3"`, or a bare `3` as some clients send) → `3`; undefined when absent. */
export function versionFromETag(etag: string | undefined): string | undefined {
  if (!etag) return undefined;
  const m = /^(?:W\/)?"?([^"]*)"?$/.exec(etag.trim());
  return m?.[1] || undefined;
}

export function etagOf(versionId: string | undefined): string | undefined {
  return versionId ? `W/"${versionId}"` : undefined;
}

/** HTTP-date of the version's meta.lastUpdated, for Last-Modified. */
export function httpDateOf(instant: string | undefined): string | undefined {
  if (!instant) return undefined;
  const d = new Date(instant);
  return Number.isNaN(d.getTime()) ? undefined : d.toUTCString();
}

export function versionHeadersOf(resource: Resource): { etag?: string; lastModified?: string } {
  return { etag: etagOf(resource.meta?.versionId), lastModified: httpDateOf(resource.meta?.lastUpdated) };
}

export type PreferReturn = 'minimal' | 'representation' | 'OperationOutcome';

export interface Prefer {
  return?: PreferReturn;
  handling?: 'strict' | 'lenient';
}

/** RFC 7240 Prefer, as FHIR uses it: `return=minimal`, `handling=strict`, several preferences comma- or semicolon-separated. */
export function parsePrefer(header: string | undefined): Prefer {
  const prefer: Prefer = {};
  if (!header) return prefer;
  for (const part of header.split(/[,;]/)) {
    const [k, v] = part.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) prefer.return = v;
    if (k === 'handling' && (v === 'strict' || v === 'lenient')) prefer.handling = v;
  }
  return prefer;
}

/** If-None-Match on a read: `*` matches any existing version, otherwise the listed ETags. */
export function ifNoneMatchHits(header: string | undefined, versionId: string | undefined): boolean {
  if (!header || !versionId) return false;
  return header.split(',').some((tag) => tag.trim() === '*' || versionFromETag(tag) === versionId);
}
