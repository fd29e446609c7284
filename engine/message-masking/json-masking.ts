import { isNameKey } from '../log-masking';
import { isAddressKey, isIdNumberKey, isPersonContext, isPhoneKey, isVendorNameKey, maskAddress, maskAll, maskIdNumber, maskName, maskPhone } from './field-masks';

/**
 * Patient identifiers in JSON (FHIR resources and bundles, the platforms' JSON APIs), by structure: FHIR HumanName,
 * ContactPoint, Address and identity-document Identifiers, and vendor keys that say what they hold (`patn_name`,
 * `idCard`, `mobile`, `address`). A bare `name` is a person's only under a person-like key or in a person-like record
 * (one with a gender, birth date or ID number): order items, organisations and codes keep theirs.
 */

const DOCUMENT_SYSTEMS = /2\.16\.156\.10011\.1\.(3|19)\b|resident-id|id-?card|身份证/i;
const DOCUMENT_TYPE_CODES = new Set(['NI', 'NNCHN', 'PPN', 'DL', 'SS', 'ID', '01']);
const PERSON_RESOURCES = new Set(['Patient', 'Practitioner', 'RelatedPerson', 'Person']);
const PERSON_RECORD_KEYS = /^(gender|sex|birthdate|birthday|birth_date|idcard|idno|身份证号?|性别|出生日期|age|年龄|phone|mobile)$/i;
const AREA_KEYS = new Set(['city', 'district', 'state', 'country', 'postalCode', 'use', 'type', 'period', 'extension']);
const GIVEN_KEYS = /^(given|givenname|firstname|middlename|名)$/i;

type Nested = (text: string) => string;

function isDocumentIdentifier(o: Record<string, unknown>): boolean {
  if (typeof o.value !== 'string') return false;
  if (typeof o.system === 'string' && DOCUMENT_SYSTEMS.test(o.system)) return true;
  const codings = (o.type as { coding?: Array<{ code?: unknown }> } | undefined)?.coding ?? [];
  return codings.some((c) => typeof c.code === 'string' && DOCUMENT_TYPE_CODES.has(c.code));
}

function isContactPoint(o: Record<string, unknown>): boolean {
  return typeof o.value === 'string' && (o.system === 'phone' || o.system === 'sms' || o.system === 'fax' || o.system === 'pager');
}

function maskHumanName(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...o };
  if (typeof o.text === 'string') out.text = maskName(o.text);
  if (typeof o.family === 'string') out.family = maskName(o.family);
  if (Array.isArray(o.given)) out.given = o.given.map((g) => (typeof g === 'string' ? maskAll(g) : g));
  return out;
}

function maskAddressObject(o: Record<string, unknown>, nested: Nested): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (AREA_KEYS.has(k)) out[k] = walk(v, k, nested, false);
    else if (typeof v === 'string') out[k] = maskAddress(v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'string' ? maskAddress(x) : walk(x, k, nested, false)));
    else out[k] = walk(v, k, nested, false);
  }
  return out;
}

// FHIR elements whose Reference is usually to a person (Patient, Practitioner, RelatedPerson); an organisation's
// display there loses its tail too, which costs less than a patient's name shown in clear.
const PERSON_REFERENCE_KEYS = new Set(['subject', 'patient', 'requester', 'performer', 'practitioner', 'author', 'actor',
  'recorder', 'asserter', 'individual', 'attester', 'enterer', 'informant', 'beneficiary', 'party', 'payee', 'who',
  'onBehalfOf', 'sender', 'recipient', 'participant', 'generalPractitioner', 'referrer', 'orderer', 'dispenser', 'receiver']);

function isPersonReference(o: Record<string, unknown>, key: string | undefined): boolean {
  if (typeof o.display !== 'string' || (typeof o.reference !== 'string' && o.identifier === undefined)) return false;
  if (typeof o.reference === 'string' && /^(Patient|Practitioner|PractitionerRole|RelatedPerson|Person)\//.test(o.reference)) return true;
  return key !== undefined && PERSON_REFERENCE_KEYS.has(key);
}

function isHumanNameLike(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) &&
    ('family' in v || 'given' in v || ('text' in v && !('coding' in v)));
}

function maskString(key: string | undefined, value: string, personRecord: boolean, nested: Nested): string {
  if (key !== undefined) {
    if (isIdNumberKey(key)) return maskIdNumber(value);
    if (isPhoneKey(key)) return maskPhone(value);
    if (isAddressKey(key)) return maskAddress(value);
    if (GIVEN_KEYS.test(key)) return maskAll(value);
    if (key === 'name' ? personRecord : isNameKey(key) || isVendorNameKey(key)) return maskName(value);
  }
  return nested(value);
}

function walk(v: unknown, key: string | undefined, nested: Nested, personContext: boolean): unknown {
  if (typeof v === 'string') return maskString(key, v, personContext, nested);
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => walk(x, key, nested, personContext));
  const o = v as Record<string, unknown>;
  if (key === 'name' && isHumanNameLike(o)) return maskHumanName(o);
  if (isDocumentIdentifier(o)) return { ...o, value: maskIdNumber(o.value as string) };
  if (isContactPoint(o)) return { ...o, value: maskPhone(o.value as string) };
  if (isPersonReference(o, key)) return { ...o, display: maskName(o.display as string) };
  if (key !== undefined && isAddressKey(key)) return maskAddressObject(o, nested);
  const person = (typeof o.resourceType === 'string' ? PERSON_RESOURCES.has(o.resourceType) : isPersonContext(key)) ||
    Object.keys(o).some((k) => PERSON_RECORD_KEYS.test(k));
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(o)) out[k] = walk(child, k, nested, person);
  return out;
}

export function looksLikeJson(text: string): boolean {
  return /^\s*[{[]/.test(text);
}

/** Undefined when the text is not JSON after all (the caller then masks it as text). */
export function maskJson(text: string, nested: Nested): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const indent = /^[{[]\s*\n(\s+)/.exec(text.trim())?.[1].length ?? 0;
  return JSON.stringify(walk(parsed, undefined, nested, false), null, indent);
}
