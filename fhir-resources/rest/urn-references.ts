import type { BundleEntry, Resource } from '@medplum/fhirtypes';

/*
 * `urn:uuid:` (and `urn:oid:`) fullUrls of a transaction and the `Type/id` each turned into. Entries may refer to
 * one another in any order, so POSTs run in dependency order (a Patient before the Observations that point at
 * it); what still points forward after that (a cycle) is filled in by the transaction once both exist.
 */

/** A urn inside a URL or search string (`Observation?subject=urn:uuid:…`); ends where the query value ends. */
const URN_IN_TEXT = /urn:(?:uuid|oid):[A-Za-z0-9.\-]+/g;

/**
 * `value` with every `reference` string that `visit` maps replaced (`visit` sees each one). Copy on write: a subtree
 * without a replaced reference is returned as it is, so a resource that points at nothing in the bundle is not copied.
 */
function rewriteReferences(value: unknown, visit: (ref: string) => string | undefined): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = rewriteReferences(value[i], visit);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  const object = value as Record<string, unknown>;
  for (const k in object) {
    const v = object[k];
    const next = k === 'reference' && typeof v === 'string' ? visit(v) ?? v : rewriteReferences(v, visit);
    if (next !== v) (out ??= { ...object })[k] = next;
  }
  return out ?? value;
}

export class UrnReferences {
  private readonly known = new Set<string>();
  private readonly resolved = new Map<string, string>();

  constructor(entries: BundleEntry[]) {
    for (const e of entries) {
      const full = e?.fullUrl;
      if (!full || !/^urn:(uuid|oid):/.test(full)) continue;
      this.known.add(full);
      // A PUT to Type/id has its id before anything runs.
      const url = e.request?.url;
      if (e.request?.method === 'PUT' && url && !url.includes('?') && /^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(url)) this.resolved.set(full, url);
    }
  }

  resolve(entry: BundleEntry, reference: string): void {
    if (entry.fullUrl && this.known.has(entry.fullUrl)) this.resolved.set(entry.fullUrl, reference);
  }

  rewriteText(text: string): string {
    if (this.resolved.size === 0) return text;
    return text.replace(URN_IN_TEXT, (urn) => this.resolved.get(urn) ?? urn);
  }

  rewriteResource<T extends Resource>(resource: T): T {
    if (this.resolved.size === 0) return resource;
    return rewriteReferences(resource, (ref) => this.resolved.get(ref)) as T;
  }

  /** True when `resource` still points at a bundle-local fullUrl. */
  hasUnresolved(resource: Resource | undefined): boolean {
    return this.mentioned(resource).size > 0;
  }

  private mentioned(resource: Resource | undefined, ...texts: (string | undefined)[]): Set<string> {
    const found = new Set<string>();
    // A visit that replaces nothing copies nothing.
    rewriteReferences(resource, (ref) => { if (this.known.has(ref)) found.add(ref); return undefined; });
    for (const t of texts) for (const urn of t?.match(URN_IN_TEXT) ?? []) if (this.known.has(urn)) found.add(urn);
    return found;
  }

  /**
   * Stable order with every POST after the POSTs whose fullUrls it mentions, as far as the graph allows;
   * other items and the relative order of independent POSTs stay as given.
   */
  order<T>(items: T[], entryOf: (item: T) => BundleEntry, isPost: (item: T) => boolean): T[] {
    const posts = items.filter(isPost);
    if (posts.length < 2 || this.known.size === 0) return items;
    const byUrn = new Map<string, T>();
    for (const p of posts) { const f = entryOf(p).fullUrl; if (f && this.known.has(f)) byUrn.set(f, p); }
    const deps = new Map<T, Set<T>>();
    for (const p of posts) {
      const e = entryOf(p);
      const on = new Set<T>();
      for (const urn of this.mentioned(e.resource, e.request?.url, e.request?.ifNoneExist)) {
        const q = byUrn.get(urn);
        if (q && q !== p) on.add(q);
      }
      deps.set(p, on);
    }
    const done = new Set<T>();
    const sorted: T[] = [];
    while (sorted.length < posts.length) {
      const next = posts.find((p) => !done.has(p) && [...deps.get(p)!].every((q) => done.has(q)))
        // a cycle: take the first remaining one; its forward references are filled in afterwards
        ?? posts.find((p) => !done.has(p))!;
      done.add(next);
      sorted.push(next);
    }
    let i = 0;
    return items.map((item) => (isPost(item) ? sorted[i++] : item));
  }
}
