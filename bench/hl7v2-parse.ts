/**
 * Parse-only rate of the HL7 v2 reader in mappings/hl7v2 beside hl7-standard's, on the same messages in one run
 * (`npx tsx bench/hl7v2-parse.ts`; BENCH_MS=… per case). Three readings of ours: parse (segments and raw fields,
 * what every mapping pays), parse + reading every component of every field unescaped (what a full decode costs),
 * and parse + map to FHIR. hl7-standard is `new HL7(text); transform()`, which splits every field up front.
 * bench/clinical-channels.ts prints the same table for its message mix through compareParsers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMessage } from '../adapters/mllp/hl7-charset';
import { hl7v2ToBundle, parseHl7 } from '../mappings/hl7v2';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const HL7 = require('hl7-standard') as new (raw: string) => { transform(): void };

// From bench/ under tsx, from dist/bench/ when built.
const fixtures = [join(__dirname, '..'), join(__dirname, '../..')].map((root) => join(root, 'test/fixtures/hl7v2')).find((dir) => existsSync(dir))!;
const read = (name: string): string => decodeMessage(readFileSync(join(fixtures, name)), 'auto').text;

/** The fixed cases this benchmark has always measured: [label, message text]. */
export function standardCases(): Array<[string, string]> {
  const oru = read('oru-cbc-utf8.hl7');
  return [
    ['ORU^R01 血常规, 13 OBX (1.9 KB)', oru],
    ['ADT^A04 (0.9 KB)', read('adt-a04-utf8.hl7')],
    ['ORU^R01, 100 OBX (13 KB)', oru.replace(/(OBX[^\r]*\r)/, (obx: string) => obx.repeat(100)).replace(/NTE[^\r]*\r/, '')],
  ];
}

function readEverything(text: string): number {
  let chars = 0;
  for (const segment of parseHl7(text).segments) {
    for (let f = 1; f < segment.fields.length; f++) {
      for (const rep of segment.repetitions(f)) {
        for (let c = 1; c <= rep.componentCount; c++) chars += rep.get(c).length;
      }
    }
  }
  return chars;
}

/** Runs of `run` per second, measured for about `ms` after a warm-up. */
export function rate(run: () => unknown, ms: number): number {
  for (let i = 0; i < 200; i++) run();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) run();
    n += 50;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);

/** Measures and prints, per case, messages/s of hl7-standard, our parse, parse + every field, parse + map. */
export function compareParsers(cases: Array<[string, string]>, ms = Number(process.env.BENCH_MS ?? 1500)): void {
  console.log(`${'message'.padEnd(34)}${'hl7-standard'.padStart(14)}${'parse'.padStart(12)}${'every field'.padStart(14)}${'parse+map'.padStart(12)}  msg/s; parse ÷ hl7-standard`);
  for (const [name, text] of cases) {
    const library = rate(() => new HL7(text).transform(), ms);
    const parse = rate(() => parseHl7(text), ms);
    const full = rate(() => readEverything(text), ms);
    const mapped = rate(() => hl7v2ToBundle(parseHl7(text)), ms);
    console.log(`${name.padEnd(34)}${fmt(library)}    ${fmt(parse)}  ${fmt(full)}  ${fmt(mapped)}  ×${(parse / library).toFixed(0)} (every field ×${(full / library).toFixed(0)})`);
  }
}

if (require.main === module) {
  console.log(`node ${process.version}, ${new Date().toISOString()}`);
  compareParsers(standardCases());
}
