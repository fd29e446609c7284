import { invalidRequest, unsupportedMediaType } from './http-outcomes';

/** Bodies above this are refused with 413 before they are read (checked by express.raw against Content-Length too). */
export const BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/*
 * Deepest JSON nesting accepted. Real R4 resources stay far below it (a Questionnaire nested ten items deep is
 * about 25 levels); the limit exists so a hostile body cannot make the validator, the index extraction or
 * fast-json-patch recurse until the stack overflows.
 */
export const MAX_JSON_DEPTH = 100;

export type BodyKind = 'fhir-json' | 'json-patch' | 'form';

const FHIR_JSON = new Set(['application/fhir+json', 'application/json', 'application/json+fhir']);

/** The media type without parameters, lower-cased: `application/fhir+json; charset=utf-8` → `application/fhir+json`. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

export function bodyKindOf(contentType: string | undefined): BodyKind | undefined {
  const t = mediaTypeOf(contentType);
  if (!t) return undefined;
  if (FHIR_JSON.has(t)) return 'fhir-json';
  if (t === 'application/json-patch+json') return 'json-patch';
  if (t === 'application/x-www-form-urlencoded') return 'form';
  return undefined;
}

/**
 * Nesting depth of a JSON text, counted without parsing it, so a body nested a million levels deep is refused
 * before JSON.parse or any recursive walk sees it. Stops counting as soon as the limit is passed.
 */
export function exceedsJsonDepth(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Parses a JSON body, answering malformed or over-deep JSON with a 400 OperationOutcome. */
export function parseJsonBody(text: string): unknown {
  if (exceedsJsonDepth(text)) {
    throw invalidRequest(`The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`, undefined, 'too-costly');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidRequest(`The body is not valid JSON: ${(err as Error).message}`, undefined, 'structure');
  }
}

/**
 * Turns the raw bytes of a request into its body value according to Content-Type. `accepted` names the kinds the
 * interaction takes; anything else with a body is a 415. An empty body yields undefined whatever the type.
 */
export function decodeBody(raw: Buffer | undefined, contentType: string | undefined, accepted: BodyKind[]): unknown {
  if (!raw || raw.length === 0) return undefined;
  const kind = bodyKindOf(contentType);
  if (!kind || !accepted.includes(kind)) {
    throw unsupportedMediaType(mediaTypeOf(contentType), accepted.map(describeKind).join(' or '));
  }
  const text = raw.toString('utf8');
  if (kind === 'form') return new URLSearchParams(text);
  return parseJsonBody(text);
}

function describeKind(kind: BodyKind): string {
  switch (kind) {
    case 'fhir-json': return 'application/fhir+json';
    case 'json-patch': return 'application/json-patch+json';
    case 'form': return 'application/x-www-form-urlencoded';
  }
}
