import fs from 'node:fs';
import path from 'node:path';
import { isValidResidentId } from '../../../fhir-resources/profiles/resident-id';
import type { KnownPersonalData } from './known-personal-data';

/**
 * Finds personal data left in clear in captured log lines: 18-character resident ID numbers (a valid number by
 * GB 11643, check character included, or one the test data uses), mainland mobile numbers, and the names of the
 * people in the test data. Deliberately independent of engine/log-masking.ts, whose gaps it exists to find.
 */
export type LeakKind = 'ID number' | 'mobile number' | 'name';

export interface Leak {
  kind: LeakKind;
  /** The value as it appeared. Reports show `masked` only, so that the report is not a leak of its own. */
  value: string;
  masked: string;
}

export interface LocatedLeak extends Leak {
  file: string;
  line: number;
  /** The capture file's producer (the test file), from the file name. */
  source: string;
  /** The line's msg and component / channel, with every leak on the line masked: enough to find the log call. */
  context: string;
}

const ID18 = /(?<![\dA-Za-z])\d{17}[\dXx](?![\dXx])/g;
// With an optional +86 / 0086 / 86 prefix and the 3-4-4 grouping people write.
const MOBILE = /(?<!\d)(?:(?:\+|00)?86[-\s]?)?(1[3-9]\d)([-\s]?)(\d{4})\2(\d{4})(?!\d)/g;

/** Enough to recognise the finding in the test data, not enough to be the leak again. */
function mask(value: string): string {
  return /^\d/.test(value) ? value.slice(0, 3) + '*'.repeat(value.length - 5) + value.slice(-2) : value[0] + '*'.repeat(value.length - 1);
}

export function findLeaks(text: string, known: KnownPersonalData): Leak[] {
  const leaks: Leak[] = [];
  for (const m of text.matchAll(ID18)) {
    const id = m[0].toUpperCase();
    if (isValidResidentId(id) || known.idNumbers.has(id)) leaks.push({ kind: 'ID number', value: m[0], masked: mask(m[0]) });
  }
  for (const m of text.matchAll(MOBILE)) {
    const digits = m[1] + m[3] + m[4];
    leaks.push({ kind: 'mobile number', value: m[0], masked: mask(digits) });
  }
  for (const name of known.names) {
    if (text.includes(name)) leaks.push({ kind: 'name', value: name, masked: mask(name) });
  }
  return leaks;
}

/** `test_engine_x.test.ts.1234.jsonl` → `test_engine_x.test.ts` (see engine/log-capture.ts for the naming). */
function sourceOf(file: string): string {
  return path.basename(file).replace(/\.\d+\.jsonl$/, '');
}

export function scanCaptureDirectory(dir: string, known: KnownPersonalData): { lines: number; files: number; leaks: LocatedLeak[] } {
  let lines = 0;
  const leaks: LocatedLeak[] = [];
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort() : [];
  for (const name of found) {
    const file = path.join(dir, name);
    fs.readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
      if (!text) return;
      lines++;
      const found = findLeaks(text, known);
      if (found.length) {
        const context = contextOf(text, found);
        for (const leak of found) leaks.push({ ...leak, file, line: i + 1, source: sourceOf(file), context });
      }
    });
  }
  return { lines, files: found.length, leaks };
}

function contextOf(text: string, leaks: Leak[]): string {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { msg: text };
  }
  let context = JSON.stringify({ level: parsed.level, component: parsed.component, channel: parsed.channel, msg: parsed.msg });
  for (const leak of leaks) context = context.split(leak.value).join(leak.masked);
  return context.length > 300 ? `${context.slice(0, 300)}…` : context;
}

/** One line per leak: where (capture file:line, producing test) and what, never the value itself. */
export function describeLeaks(leaks: LocatedLeak[], limit = 50): string {
  const shown = leaks.slice(0, limit).map((l) => `  ${l.file}:${l.line} (from ${l.source}): unmasked ${l.kind} ${l.masked} in ${l.context}`);
  if (leaks.length > limit) shown.push(`  … and ${leaks.length - limit} more`);
  return shown.join('\n');
}
