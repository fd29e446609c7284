/** The instant and ETag of a resource version as the store stamps and compares them. */

/** Now, but never before the previous version's instant (clocks of several nodes may disagree slightly). */
export function nextInstant(previous: string | undefined): string {
  const now = new Date().toISOString();
  return previous !== undefined && previous > now ? previous : now;
}

/** `W/"3"`, `"3"` or `3` → `3`. */
export function parseETag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
