import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonCopy } from '../../../fhir-resources/validation/json-copy';

const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const fixtures = join(__dirname, '../../fixtures/hl7v2');

describe('jsonCopy', () => {
  it('gives what a JSON round trip gives for every golden Bundle, and shares no object with its source', () => {
    const files = readdirSync(fixtures).filter((f) => f.endsWith('.bundle.json'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const bundle = JSON.parse(readFileSync(join(fixtures, file), 'utf8'));
      const copy = jsonCopy(bundle);
      expect(JSON.stringify(copy)).toBe(JSON.stringify(roundTrip(bundle)));
      copy.entry[0].resource.id = 'changed';
      copy.entry[0].resource.meta = { tag: [] };
      expect(bundle.entry[0].resource.id).not.toBe('changed');
      expect(bundle.entry[0].resource.meta).toBeUndefined();
    }
  });

  it('turns the values JSON cannot hold into what JSON.stringify makes of them', () => {
    const odd = {
      resourceType: 'Patient', skipped: undefined, fn: () => 1, symbol: Symbol('s'), nan: NaN, inf: -Infinity, negZero: -0,
      when: new Date(Date.UTC(2026, 10, 28)), list: [undefined, () => 1, NaN, 1, 'a', null, { a: undefined, b: [] }], nested: { deeper: { x: true } },
    };
    const copy = jsonCopy(odd);
    expect(copy).toStrictEqual(roundTrip(odd));
    expect(Object.is((copy as unknown as { negZero: number }).negZero, 0)).toBe(true);
  });

  it('keeps a "__proto__" key as data, as JSON.parse does, instead of setting the prototype', () => {
    const parsed = JSON.parse('{"resourceType":"Basic","__proto__":{"polluted":true}}');
    const copy = jsonCopy(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(JSON.stringify(copy)).toBe(JSON.stringify(parsed));
  });
});
