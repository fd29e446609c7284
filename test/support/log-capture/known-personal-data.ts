import fs from 'node:fs';
import path from 'node:path';
import { SIM_PATIENTS } from '../../../simulators/mllp/oru-message';
import { HisState } from '../../../simulators/his/his-state';

/**
 * The people the suite's data is about: names (and the ID numbers given with them) from the golden fixtures, the
 * simulators' seed data and the test sources. The log check looks for each of them verbatim, because a name in free
 * text has no pattern a scanner could find; collecting them from the data keeps the list current as fixtures grow.
 */
export interface KnownPersonalData {
  names: Set<string>;
  /** 18-character ID numbers in the data, flagged even where their check digit is wrong (made-up test numbers). */
  idNumbers: Set<string>;
}

const ROOT = path.join(__dirname, '../../..');
const HAN_NAME = /^\p{Script=Han}{2,5}$/u;
const ID_SHAPE = /(?<![\dA-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dXx])/g;

function files(dir: string, pattern: RegExp, skip: RegExp = /node_modules/): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (skip.test(full)) return [];
    return e.isDirectory() ? files(full, pattern, skip) : pattern.test(e.name) ? [full] : [];
  });
}

function addName(out: Set<string>, name: string | undefined): void {
  const n = name?.trim().replace(/\s+/g, '');
  if (n && HAN_NAME.test(n)) out.add(n);
}

/** FHIR HumanName objects anywhere under a `name` key (Patient, Practitioner, RelatedPerson, Patient.contact). */
function namesInJson(value: unknown, out: Set<string>, key?: string): void {
  if (Array.isArray(value)) {
    for (const v of value) namesInJson(v, out, key);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const o = value as Record<string, unknown>;
  if (key === 'name' && (typeof o.family === 'string' || Array.isArray(o.given) || typeof o.text === 'string')) {
    addName(out, typeof o.text === 'string' ? o.text : undefined);
    const given = Array.isArray(o.given) ? o.given.join('') : '';
    if (typeof o.family === 'string' && given) addName(out, o.family + given);
  }
  for (const [k, v] of Object.entries(o)) namesInJson(v, out, k);
}

// HL7 v2 fields holding person names (XPN / XCN), as in engine/log-masking.ts, kept separate on purpose: the check
// must not share the masker's blind spots.
const HL7_PERSON_FIELDS: Record<string, number[]> = {
  PID: [5, 6, 9], NK1: [2, 30], PV1: [7, 8, 9, 17, 52], ORC: [10, 11, 12], OBR: [16, 28, 32, 33, 34, 35], OBX: [16],
  IN1: [16], GT1: [3], MRG: [7], TXA: [5, 9, 10, 22], EVN: [5], ROL: [4], PD1: [4],
};

/** `张^三` → 张三, `张三^ZHANG SAN` → 张三, `D001^李^四` → 李四. */
function nameOfComponents(rep: string): string | undefined {
  const han = rep.split('^').filter((c) => /\p{Script=Han}/u.test(c));
  if (han.length === 0) return undefined;
  return han[0].length === 1 && han[1] ? han[0] + han[1] : han[0];
}

function namesInHl7(text: string, out: Set<string>): void {
  for (const m of text.matchAll(/(?:^|[^A-Za-z0-9])(PID|NK1|PV1|ORC|OBR|OBX|IN1|GT1|MRG|TXA|EVN|ROL|PD1)\|([^\r\n`'"]*)/g)) {
    const fields = m[2].split('|');
    for (const n of HL7_PERSON_FIELDS[m[1]]) {
      for (const rep of (fields[n - 1] ?? '').split('~')) addName(out, nameOfComponents(rep));
    }
  }
}

/** HL7 v3 `<name>` of people: under a person (classCode PSN, `…Person`, `relationshipHolder`, `patient`). */
function namesInV3(text: string, out: Set<string>): void {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)([^>]*?)(\/?)>/g;
  const stack: Array<{ name: string; attrs: string }> = [];
  let nameStart = -1;
  let owner: { name: string; attrs: string } | undefined;
  for (const m of text.matchAll(tag)) {
    const [, closing, name, attrs, selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open?.name === 'name' && nameStart >= 0) {
        const inner = text.slice(nameStart, m.index);
        const personal = owner && (/classCode="PSN"/.test(owner.attrs) || /person$|holder\d*$|^patient$|^doctor$/i.test(owner.name));
        if (personal) {
          const parts = [...inner.matchAll(/value="([^"]*)"/g)].map((p) => p[1]);
          const family = /<family[^>]*>([^<]*)</.exec(inner)?.[1];
          const given = /<given[^>]*>([^<]*)</.exec(inner)?.[1];
          const plain = inner.replace(/<[^>]*>/g, '').trim();
          for (const p of parts) addName(out, p);
          if (family) addName(out, family + (given ?? ''));
          addName(out, plain);
        }
        nameStart = -1;
      }
      continue;
    }
    if (selfClosing) continue;
    if (name === 'name' && nameStart < 0) {
      owner = stack[stack.length - 1];
      nameStart = (m.index ?? 0) + m[0].length;
    }
    stack.push({ name, attrs });
  }
}

/** Person-name literals in TypeScript sources: keys that only ever hold a person's name, and seed-like records. */
function namesInSource(text: string, out: Set<string>): void {
  const literal = `['"\`](\\p{Script=Han}{2,5})['"\`]`;
  for (const m of text.matchAll(new RegExp(`(?:patientName|patn_name|doctorName|PatientName|doctor_name|姓名|患者姓名|payerName|realName|real_name)['"]?\\s*:\\s*${literal}`, 'gu'))) addName(out, m[1]);
  for (const m of text.matchAll(new RegExp(`family['"]?\\s*:\\s*${literal}\\s*,\\s*given['"]?\\s*:\\s*\\[\\s*${literal}`, 'gu'))) addName(out, m[1] + m[2]);
  for (const line of text.split('\n')) {
    // `name: '…'` is a person only in a record that also carries a person's attributes (not 血常规, not 桃源院区).
    if (!/idCard|birthDate|gender|\bsex\b|pinyin|phone|idNumber|family|given/.test(line)) continue;
    // Catalogue rows (charge items, drugs) carry a pinyin code too, but also a price or a specification.
    if (/\bprice\b|\bspec\b|approvalNo|manufacturer|precautions/.test(line)) continue;
    for (const m of line.matchAll(new RegExp(`(?:name|text)['"]?\\s*:\\s*${literal}`, 'gu'))) addName(out, m[1]);
  }
  namesInHl7(text, out);
  namesInV3(text, out);
}

export function collectKnownPersonalData(root: string = ROOT): KnownPersonalData {
  const names = new Set<string>();
  const idNumbers = new Set<string>();
  const fixtures = path.join(root, 'test/fixtures');
  for (const file of files(fixtures, /\.json$/)) namesInJson(JSON.parse(fs.readFileSync(file, 'utf8')), names);
  for (const file of files(fixtures, /\.hl7$/)) namesInHl7(fs.readFileSync(file, 'utf8'), names);
  for (const file of files(fixtures, /\.xml$/)) namesInV3(fs.readFileSync(file, 'utf8'), names);
  for (const file of [...files(path.join(root, 'test'), /\.ts$/), ...files(path.join(root, 'simulators'), /\.ts$/)]) {
    namesInSource(fs.readFileSync(file, 'utf8'), names);
  }
  for (const file of [...files(fixtures, /./), ...files(path.join(root, 'simulators'), /\.ts$/)]) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(ID_SHAPE)) idNumbers.add(m[0].toUpperCase());
  }

  // The seeds as the simulators build them, whatever the source formatting.
  for (const p of SIM_PATIENTS) {
    addName(names, p.name);
    names.add(p.pinyin);
  }
  for (const p of new HisState().patients.values()) {
    addName(names, p.name);
    if (p.idCard) idNumbers.add(p.idCard.toUpperCase());
  }
  return { names, idNumbers };
}
