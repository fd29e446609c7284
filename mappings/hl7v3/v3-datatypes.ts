import type { CodeableConcept, ContactPoint, Identifier, Reference, Resource } from '@medplum/fhirtypes';
import type { MappingProblems } from './mapping-problems';
import { SNOMED_SYSTEM } from './order-vocabulary';
import type { V3Element } from './v3-document';
import { V3_OID, oidSystem } from './v3-oids';
import { tsToDate, tsToDateTime } from './v3-time';
import { el, type XmlNode } from './xml-writer';

/** The II values of an id element: DSET<II> items (`<id><item root extension/></id>`) or a bare II (`<id root extension/>`). */
export function idItems(id: V3Element | undefined): V3Element[] {
  if (!id) return [];
  const items = id.all('item');
  return items.length > 0 ? items : [id];
}

/** The id item under `root`, from one id element. */
export function idWithRoot(id: V3Element | undefined, root: string): V3Element | undefined {
  return idItems(id).find((i) => i.attr('root') === root && i.attr('extension'));
}

export function identifierFrom(item: V3Element, use?: Identifier['use']): Identifier | undefined {
  const root = item.attr('root');
  const value = item.attr('extension');
  if (!root || !value) return undefined;
  return { ...(use ? { use } : {}), system: oidSystem(root), value };
}

/** A required id under `root`: its value, or a problem at the id element. */
export function requiredId(id: V3Element | undefined, root: string, what: string, where: string, problems: MappingProblems): string | undefined {
  const value = idWithRoot(id, root)?.attr('extension');
  if (!value) problems.add('required', `${what} (an id item with root ${root} and an extension) is missing`, id?.path ?? where);
  return value;
}

/** The text of a v3 EN (DSET_EN / BAG_EN / LIST_EN): its parts joined, Chinese names being written whole. */
export function nameText(name: V3Element | undefined): string | undefined {
  const item = name?.child('item') ?? name;
  const text = item?.all('part').map((p) => p.attr('value') ?? '').join('').trim();
  return text || undefined;
}

export function writeName(text: string): XmlNode {
  return el('name', { 'xsi:type': 'DSET_EN' }, el('item', {}, el('part', { value: text })));
}

const TELECOM_USE_IN: Readonly<Record<string, ContactPoint['use']>> = { H: 'home', HP: 'home', WP: 'work', MC: 'mobile', PG: 'mobile', TMP: 'temp' };
const TELECOM_USE_OUT: Readonly<Record<string, string>> = { home: 'H', work: 'WP', mobile: 'MC', temp: 'TMP' };
// Mainland mobile numbers: 11 digits starting 1 (GB/T 14364 numbering); a HIS rarely marks them with use="MC".
const MOBILE = /^1[3-9]\d{9}$/;

export function readTelecoms(telecom: V3Element | undefined): ContactPoint[] {
  return idItems(telecom)
    .map((item): ContactPoint | undefined => {
      const raw = item.attr('value');
      if (!raw) return undefined;
      const email = raw.startsWith('mailto:');
      const value = raw.replace(/^(tel:|mailto:)/, '');
      const use = TELECOM_USE_IN[item.attr('use') ?? ''] ?? (MOBILE.test(value) ? 'mobile' : undefined);
      return { system: email ? 'email' : 'phone', value, ...(use ? { use } : {}) };
    })
    .filter((c): c is ContactPoint => c !== undefined);
}

export function writeTelecoms(points: ContactPoint[] | undefined): XmlNode | undefined {
  const usable = (points ?? []).filter((p) => p.value && (p.system === 'phone' || p.system === 'email'));
  if (usable.length === 0) return undefined;
  return el('telecom', { 'xsi:type': 'BAG_TEL' }, usable.map((p) =>
    el('item', { use: p.use ? TELECOM_USE_OUT[p.use] : undefined, value: p.system === 'email' ? `mailto:${p.value}` : p.value })));
}

/** A TS attribute as a FHIR dateTime; a present but invalid value is a problem, an absent one is not. */
export function readDateTime(element: V3Element | undefined, attr: string, problems: MappingProblems): string | undefined {
  const raw = element?.attr(attr);
  if (!raw) return undefined;
  const value = tsToDateTime(raw);
  if (!value) problems.add('value', `${raw} is not a valid date and time (yyyyMMdd[HHmm[ss]])`, element!.attrPath(attr));
  return value;
}

export function readDate(element: V3Element | undefined, attr: string, problems: MappingProblems): string | undefined {
  const raw = element?.attr(attr);
  if (!raw) return undefined;
  const value = tsToDate(raw);
  if (!value) problems.add('value', `${raw} is not a valid date (yyyyMMdd)`, element!.attrPath(attr));
  return value;
}

/** The displayName of a CD: an attribute in most messages, a child element in the platform samples. */
export function displayOf(code: V3Element | undefined): string | undefined {
  return code?.attr('displayName') ?? code?.child('displayName')?.attr('value');
}

/** A CD as a CodeableConcept: its codeSystem OID as a urn:oid system (SNOMED CT under its FHIR URI), the display as text. */
export function conceptOf(cd: V3Element | undefined): CodeableConcept | undefined {
  const code = cd?.attr('code');
  const display = displayOf(cd);
  if (!code) return display ? { text: display } : undefined;
  const oid = cd!.attr('codeSystem');
  const system = oid === V3_OID.snomed ? SNOMED_SYSTEM : oid ? oidSystem(oid) : undefined;
  return { coding: [{ ...(system ? { system } : {}), code, ...(display ? { display } : {}) }], ...(display ? { text: display } : {}) };
}

/**
 * A reference to a practitioner, department or organisation the message names by id only. Lingshu keeps no
 * directory of HIS staff codes here, so it is a logical reference (identifier + display) rather than a resource.
 */
export function logicalReference<T extends Resource>(item: V3Element | undefined, display: string | undefined, type: T['resourceType']): Reference<T> | undefined {
  const identifier = item ? identifierFrom(item) : undefined;
  if (!identifier && !display) return undefined;
  return { type, ...(identifier ? { identifier } : {}), ...(display ? { display } : {}) };
}
