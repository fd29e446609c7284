/**
 * The resource a reference points at, from `Patient/1`, `Patient/1/_history/2` or an absolute URL ending in them
 * (references written by other servers, or by clients that copy `fullUrl`).
 */
const TAIL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function parseReferenceTarget(reference: string): { type: string; id: string } | undefined {
  const m = TAIL.exec(reference);
  return m ? { type: m[1], id: m[2] } : undefined;
}

/** A bare resource id in a reference search (`subject=123`): its type comes from the parameter's target types. */
export const BARE_ID = /^[A-Za-z0-9\-.]{1,64}$/;
