import type { Address, ContactPoint, Identifier, Resource } from '@medplum/fhirtypes';
import type { IndexPrivacy } from '../search/index-privacy';
import type { ContentCodec } from '../store/content-codec';
import { FieldCipher } from './field-cipher';
import { maskAddressLine, maskIdNumber, maskPhone } from './masking';

/**
 * The personal fields 等保 and the tender name (ID numbers, phone numbers, addresses) on the resources that carry a
 * person's own ones. Stored content has them encrypted; the index has digests of identifiers and telecoms (exact
 * token search keeps working) and no address lines at all; list views show them masked.
 */
export const PROTECTED_TYPES: ReadonlySet<string> = new Set(['Patient', 'RelatedPerson', 'Person', 'Practitioner']);

/** Search parameters of the protected types whose index values are digests. */
const DIGESTED_PARAMS = new Set(['identifier', 'telecom', 'phone', 'email']);

type FieldKind = 'identifier' | 'telecom' | 'address-line' | 'address-text';
/** New value for a field; undefined drops it. */
type FieldMap = (kind: FieldKind, value: string) => string | undefined;

interface PersonLike {
  identifier?: Identifier[];
  telecom?: ContactPoint[];
  address?: Address[];
  contact?: Array<{ telecom?: ContactPoint[]; address?: Address }>;
}

function mapAddress(a: Address, f: FieldMap): Address {
  const out: Address = { ...a };
  if (a.line) {
    const line = a.line.map((l) => f('address-line', l)).filter((l): l is string => l !== undefined);
    if (line.length) out.line = line;
    else delete out.line;
  }
  if (a.text !== undefined) {
    const text = f('address-text', a.text);
    if (text === undefined) delete out.text;
    else out.text = text;
  }
  return out;
}

function mapTelecom(list: ContactPoint[], f: FieldMap): ContactPoint[] {
  return list.map((t) => (t.value === undefined ? t : { ...t, value: f('telecom', t.value) }));
}

/** A copy of a protected resource with `f` applied to each personal field; other resources are returned as they are. */
export function mapPersonalFields<T extends Resource>(resource: T, f: FieldMap): T {
  if (!PROTECTED_TYPES.has(resource.resourceType)) return resource;
  const r = { ...resource } as T & PersonLike;
  if (r.identifier) r.identifier = r.identifier.map((i) => (i.value === undefined ? i : { ...i, value: f('identifier', i.value) }));
  if (r.telecom) r.telecom = mapTelecom(r.telecom, f);
  if (r.address) r.address = r.address.map((a) => mapAddress(a, f));
  if (r.contact) {
    r.contact = r.contact.map((c) => ({
      ...c,
      ...(c.telecom ? { telecom: mapTelecom(c.telecom, f) } : {}),
      ...(c.address ? { address: mapAddress(c.address, f) } : {}),
    }));
  }
  return r;
}

export class ProtectedFields implements ContentCodec, IndexPrivacy {
  constructor(private readonly cipher: FieldCipher) {}

  encode(resource: Resource): string {
    return JSON.stringify(mapPersonalFields(resource, (_k, v) => this.cipher.encrypt(v)));
  }

  decode(content: string): Resource {
    const stored = JSON.parse(content) as Resource;
    return mapPersonalFields(stored, (_k, v) => this.cipher.decrypt(v));
  }

  forIndex(resource: Resource): Resource {
    return mapPersonalFields(resource, (kind, v) => (kind === 'identifier' || kind === 'telecom' ? this.cipher.digest(v) : undefined));
  }

  searchToken(resourceType: string, param: string, value: string): string | undefined {
    return PROTECTED_TYPES.has(resourceType) && DIGESTED_PARAMS.has(param) ? this.cipher.digest(value) : undefined;
  }
}

/** The resource as list views show it: ID numbers, phones and address lines masked. */
export function maskPersonalFields<T extends Resource>(resource: T): T {
  return mapPersonalFields(resource, (kind, v) => {
    switch (kind) {
      case 'identifier': return maskIdNumber(v);
      case 'telecom': return /\d{7,}/.test(v.replace(/[\s-]/g, '')) ? maskPhone(v) : maskIdNumber(v);
      default: return maskAddressLine(v);
    }
  });
}
