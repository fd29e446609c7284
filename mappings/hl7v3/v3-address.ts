import type { Address } from '@medplum/fhirtypes';
import { ADDRESS_DIVISION_EXTENSION, ADMINISTRATIVE_DIVISION_SYSTEM, type Division, divisions } from '../../fhir-resources/profiles';
import type { V3Element } from './v3-document';
import { el, type XmlNode } from './xml-writer';

/**
 * v3 AD (WS 363 address parts) ⇄ FHIR Address. The parts carry names, not GB/T 2260 codes, so the division code is
 * looked up from the province / city / county names and kept in the address-division extension (the most precise
 * level that resolves); the 详细地址 below county level (STB 乡镇街道, STR 村街路, BNR 门牌, or one AL line) stays
 * free text in `line`, and SAL, the whole address as written, in `text`.
 */
const USE_IN: Readonly<Record<string, Address['use']>> = { H: 'home', HP: 'home', WP: 'work', TMP: 'temp', BAD: 'old', PHYS: 'home' };
const USE_OUT: Readonly<Record<string, string>> = { home: 'H', work: 'WP', temp: 'TMP', old: 'BAD' };

export function readAddress(item: V3Element): Address | undefined {
  const part = (type: string): string | undefined => item.all('part').find((p) => p.attr('type') === type)?.attr('value');
  const detail = part('AL') ?? [part('STB'), part('STR'), part('BNR')].filter(Boolean).join('');
  const address: Address = {
    ...(item.attr('use') && USE_IN[item.attr('use')!] ? { use: USE_IN[item.attr('use')!] } : {}),
    ...(part('SAL') ? { text: part('SAL') } : {}),
    ...(detail ? { line: [detail] } : {}),
    ...(part('CTY') ? { city: part('CTY') } : {}),
    ...(part('CNT') ? { district: part('CNT') } : {}),
    ...(part('STA') ? { state: part('STA') } : {}),
    ...(part('ZIP') ? { postalCode: part('ZIP') } : {}),
  };
  if (Object.keys(address).length === 0) return undefined;
  const division = divisionOf(address.state, address.city, address.district);
  if (!division) return address;
  return {
    extension: [{ url: ADDRESS_DIVISION_EXTENSION, valueCoding: { system: ADMINISTRATIVE_DIVISION_SYSTEM, code: division.code, display: division.name } }],
    ...address,
  };
}

function divisionOf(state?: string, city?: string, district?: string): Division | undefined {
  if (!state) return undefined;
  const all = divisions();
  const province = all.find((d) => d.level === 'province' && d.name === state);
  if (!province) return undefined;
  const cityDivision = city ? all.find((d) => d.level === 'city' && d.parent === province.code && d.name === city) : undefined;
  // Municipalities (北京市, 上海市…) list their districts under a 市辖区 city row the message never names.
  const cities = cityDivision ? [cityDivision.code] : all.filter((d) => d.level === 'city' && d.parent === province.code).map((d) => d.code);
  const county = district ? all.find((d) => d.level === 'county' && d.name === district && cities.includes(d.parent ?? '')) : undefined;
  return county ?? cityDivision ?? province;
}

export function writeAddress(address: Address): XmlNode {
  const part = (type: string, value: string | undefined) => value !== undefined && value !== '' && el('part', { type, value });
  return el('item', { use: address.use ? USE_OUT[address.use] : undefined },
    part('SAL', address.text),
    part('STA', address.state),
    part('CTY', address.city),
    part('CNT', address.district),
    part('AL', address.line?.join('')),
    part('ZIP', address.postalCode));
}
