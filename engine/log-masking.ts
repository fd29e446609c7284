/**
 * Masks personal data (PIPL / 个人信息保护法) before anything reaches a log line.
 *
 * Logs are copied to places with weaker access control than the message store (log shippers, support tickets),
 * so identifiers must not leave the process in clear. Free text cannot be parsed perfectly; every rule below is
 * anchored on something structural (digit-run boundaries, a date inside an ID number, an HL7 field position, an
 * explicit label or key) because a false positive garbles the log that someone needs to debug an interface, and
 * the structured places are where the data actually shows up in an integration engine.
 */

const HAN = /\p{Script=Han}/u;

// --- identity numbers and mobiles ---------------------------------------------------------------------------

// 18-digit resident ID: area code, YYYYMMDD birth date, sequence, check digit (digit or X). The date part is
// checked because 18-digit order numbers / snowflake IDs are common in HIS logs and must stay readable; the
// digit lookarounds keep a longer run (20-digit order number, nanosecond timestamp) from being read as an ID.
const ID18 = /(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dXx])/g;
// 15-digit ID (issued before 1999, still found in old master-patient-index records): area code, YYMMDD, sequence.
// Without the date check any 15-digit number (IMEI, bank batch number) would be hit.
const ID15 = /(?<!\d)[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?!\d)/g;
// Mainland mobile, optionally with +86 / 0086 / 86 and the usual 3-4-4 grouping (the same separator twice, so
// that "138 1234" followed by an unrelated number is not joined into a phone number).
const MOBILE = /(?<!\d)((?:\+|00)?86[-\s]?)?(1[3-9]\d)([-\s]?)(\d{4})\3(\d{4})(?!\d)/g;

function keepEnds(s: string, head: number, tail: number): string {
  return s.slice(0, head) + '*'.repeat(Math.max(0, s.length - head - tail)) + s.slice(s.length - tail);
}

function maskNumbers(s: string): string {
  return s
    .replace(ID18, (m) => keepEnds(m, 4, 4))
    .replace(ID15, (m) => keepEnds(m, 4, 4))
    .replace(MOBILE, (_m, prefix: string | undefined, head: string, sep: string, _mid: string, tail: string) =>
      `${prefix ?? ''}${head}${sep}****${sep}${tail}`);
}

// --- names -----------------------------------------------------------------------------------------------------

/** 张三 → 张*, 欧阳娜娜 → 欧***: the surname stays so that a person reading the log can still tell records apart. */
export function maskName(name: string): string {
  const chars = Array.from(name); // code points, so CJK extension-B characters count as one
  if (chars.length <= 1) return name;
  return chars[0] + chars.slice(1).map((c) => (/\s/.test(c) ? c : '*')).join('');
}

/** Given names are masked whole: kept next to a kept surname (family: 张, given: 三) the first character is the name. */
function maskAll(s: string): string {
  return Array.from(s).map((c) => (/\s/.test(c) ? c : '*')).join('');
}

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[\s_.-]/g, '');
}

const GIVEN_KEYS = new Set(['given', 'givenname', 'firstname', 'middlename', '名']);
// Keys are listed rather than matched by "*name", which would also hit channelName, fileName, hostName …
const PERSON_ROLES = [
  'patient', 'doctor', 'physician', 'nurse', 'provider', 'practitioner', 'contact', 'emergencycontact', 'guardian',
  'mother', 'father', 'spouse', 'insured', 'guarantor', 'applicant', 'orderer', 'ordering', 'attending',
  'referring', 'consulting', 'admitting', 'reporter', 'reviewer', 'verifier', 'kin', 'nextofkin', 'relative',
  'person', 'real', 'full', 'family', 'last', 'maiden', 'birth', 'alias', 'nick', 'pat', 'doc', 'sur',
];
// Keys naming a role rather than a name: a string under them is a name (患者: "张三"), an object is a whole record
// (患者: { id, 姓名 }) whose other fields must not be treated as name parts.
const ROLE_KEYS = new Set(['患者', '病人', '医生', '医师', '护士', '联系人', '家属', '监护人', '申请医生', '开单医生',
  '主治医生', '报告医生', '审核医生', '送检医生']);
const NAME_KEYS = new Set([
  'name', 'names', 'family', ...GIVEN_KEYS, ...ROLE_KEYS,
  ...PERSON_ROLES.map((r) => `${r}name`),
  '姓名', '名字', '姓', '患者姓名', '病人姓名', '医生姓名', '医师姓名', '护士姓名', '联系人姓名', '家属姓名', '监护人姓名',
]);
// Inside a name object (FHIR HumanName) these hold name parts too; `use`, `period` … stay readable.
const NAME_PART_KEYS = new Set(['text', 'prefix', 'suffix']);

/** True when a property of that name holds a person's name. */
export function isNameKey(key: string): boolean {
  return NAME_KEYS.has(normaliseKey(key));
}

function maskByKey(key: string, value: string): string {
  return GIVEN_KEYS.has(normaliseKey(key)) ? maskAll(value) : maskName(value);
}

// HL7 v2 fields typed XPN / XCN / CNN (person names), by segment. Only these positions are touched: the same
// component layout elsewhere (CWE codes, addresses) would otherwise be mangled.
const HL7_NAME_FIELDS: Record<string, number[]> = {
  PID: [5, 6, 9], // patient name, mother's maiden name, alias
  PD1: [4], // primary care provider
  NK1: [2, 30], // next-of-kin name, contact person
  PV1: [7, 8, 9, 17, 52], // attending, referring, consulting, admitting, other provider
  PV2: [13], // referral source
  ORC: [10, 11, 12], // entered by, verified by, ordering provider
  OBR: [16, 28, 32, 33, 34, 35], // ordering provider, copies to, result interpreters / technician / transcriptionist
  OBX: [16], // responsible observer
  IN1: [16], // name of insured
  IN2: [7], // insured's employee name
  GT1: [3], // guarantor name
  MRG: [7], // prior patient name
  TXA: [5, 9, 10, 22], // document authors and authenticators
  EVN: [5], // operator
  ROL: [4], // role person
};
// A segment starts at the beginning of the text, after a line break (real, or escaped as \r / \n when the message
// was JSON-encoded into the string), or after a non-alphanumeric character; it ends at the next line break.
const HL7_SEGMENT = new RegExp(
  `(?:(?<=\\\\[rn])|(?<![A-Za-z0-9]))(${Object.keys(HL7_NAME_FIELDS).join('|')})\\|((?:[^\\r\\n\\\\]|\\\\(?![rn]))*)`, 'g');

/**
 * One repetition of a name field: the first Chinese character of the first Chinese component is kept (the surname
 * in 张^三 or 张三^^^^), every other Chinese-bearing component is masked whole. Components without Chinese
 * (XCN.1 staff code, name type code "L", pinyin) are left alone, which is what the interface analyst needs.
 */
function maskHl7Name(rep: string): string {
  let kept = false;
  return rep.split(/([\^&])/).map((piece) => {
    if (piece === '^' || piece === '&' || !HAN.test(piece)) return piece;
    if (kept) return maskAll(piece);
    kept = true;
    return maskName(piece);
  }).join('');
}

function maskHl7(s: string): string {
  if (!s.includes('|')) return s;
  return s.replace(HL7_SEGMENT, (whole, seg: string, body: string) => {
    if (!HAN.test(body)) return whole;
    const fields = body.split('|');
    for (const n of HL7_NAME_FIELDS[seg]) {
      const i = n - 1; // fields[0] is field 1 (the segment id has been split off)
      if (i < fields.length && HAN.test(fields[i])) fields[i] = fields[i].split('~').map(maskHl7Name).join('~');
    }
    return `${seg}|${fields.join('|')}`;
  });
}

// Labels after which Chinese prose puts a name. A separator (colon, =, whitespace) is required: directly joined
// text such as 患者列表 or 医生工作站 is not a name, and without a separator the name's end cannot be found.
const LABELS = ['患者姓名', '病人姓名', '医生姓名', '联系人姓名', '家属姓名', '姓名', '患者', '病人', '医生', '医师',
  '护士', '联系人', '家属', '监护人', '申请医生', '开单医生', '主治医生', '报告医生', '审核医生', '送检医生'];
const LABELLED_NAME = new RegExp(`(${LABELS.join('|')})([:：=]\\s*|\\s+)(\\p{Script=Han}{2,4})`, 'gu');

// `"name":"张三"` / `"family":"张"` / `"given":["三"]` inside a string (a logged JSON body). Keys come from
// NAME_KEYS, as for structured values; only quoted JSON is handled, other key=value forms need a Chinese value.
const JSON_NAME = /"([^"\\]{1,40})"\s*:\s*("(?:[^"\\]|\\.)*"|\[\s*"(?:[^"\\]|\\.)*"(?:\s*,\s*"(?:[^"\\]|\\.)*")*\s*\])/g;
const KV_NAME = /(?<![A-Za-z0-9_])([A-Za-z_]{3,30})(\s*[=:]\s*)(\p{Script=Han}{1,6})/gu;
// "text" is a name only inside a FHIR HumanName object: `"name":[{"text":"张三",…}]`.
const HUMAN_NAME_OBJECT = /"name"\s*:\s*\[?\s*\{[^{}]*\}/g;

function maskJsonString(quoted: string, mask: (s: string) => string): string {
  return quoted.replace(/"((?:[^"\\]|\\.)*)"/g, (_m, inner: string) => `"${mask(inner)}"`);
}

function maskNames(s: string): string {
  let out = s.replace(HUMAN_NAME_OBJECT, (obj) =>
    obj.replace(/("text"\s*:\s*)("(?:[^"\\]|\\.)*")/g, (_m, k: string, v: string) => k + maskJsonString(v, maskName)));
  out = out.replace(JSON_NAME, (whole, key: string, value: string) =>
    isNameKey(key) ? whole.slice(0, whole.length - value.length) + maskJsonString(value, (v) => maskByKey(key, v)) : whole);
  out = out.replace(KV_NAME, (whole, key: string, sep: string, value: string) =>
    isNameKey(key) ? key + sep + maskByKey(key, value) : whole);
  out = out.replace(LABELLED_NAME, (_m, label: string, sep: string, name: string) => label + sep + maskName(name));
  return maskHl7(out);
}

// --- entry points ----------------------------------------------------------------------------------------------

/** Masks ID numbers, mobile numbers and recognisable personal names in free text. */
export function maskText(s: string): string {
  if (!s) return s;
  // Names first: the HL7 and JSON rules rely on field and quote boundaries, which the digit masks never touch.
  return maskNumbers(maskNames(s));
}

const MAX_DEPTH = 12;

/**
 * Deep copy of `v` with every string masked; values under name keys are masked as names whatever they contain.
 * Non-string leaves (numbers, booleans, dates, buffers) are returned as they are. Errors become plain objects
 * (name, message, stack, own enumerable fields) because their message and stack are strings like any other.
 */
export function maskValue(v: unknown): unknown {
  return walk(v, undefined, false, 0, new WeakSet());
}

// Addresses have no pattern in free text; under a key that says so (address, homeAddr, 地址, 住址) the district stays
// and the road, house number and room go (`浙江省杭州市****`). Network and e-mail addresses are not a person's home.
const ADDRESS_KEY = /(address|addr|地址|住址)$/;
const NOT_A_HOME = /^(ip|remote|local|mac|email|mail|server|peer|listen|bind|socket|host|client|web|url)/;

function isHomeAddress(key: string, value: string): boolean {
  const k = normaliseKey(key);
  return ADDRESS_KEY.test(k) && !NOT_A_HOME.test(k) && !/^[\w.:[\]-]*$|^[a-z][\w+.-]*:\/\/|@/i.test(value.trim());
}

function maskAddress(value: string): string {
  const chars = Array.from(value.trim());
  return chars.length === 0 ? value : chars.slice(0, Math.min(6, Math.floor(chars.length / 2))).join('') + '****';
}

function walk(v: unknown, key: string | undefined, inName: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (typeof v === 'string') {
    if (key !== undefined && (isNameKey(key) || (inName && NAME_PART_KEYS.has(key)))) return maskByKey(key, v);
    if (key !== undefined && isHomeAddress(key, v)) return maskAddress(v);
    return maskText(v);
  }
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date || Buffer.isBuffer(v) || ArrayBuffer.isView(v)) return v;
  if (seen.has(v)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(v);
  try {
    if (Array.isArray(v)) return v.map((item) => walk(item, key, inName, depth + 1, seen));
    const childInName = inName || (key !== undefined && isNameKey(key) && !ROLE_KEYS.has(normaliseKey(key)));
    const out: Record<string, unknown> = {};
    if (v instanceof Error) {
      // `name` of an Error is its class (TypeError), not a person.
      out.name = v.name;
      out.message = maskText(v.message);
      if (v.stack) out.stack = maskText(v.stack);
    }
    for (const [k, child] of Object.entries(v)) out[k] = walk(child, k, childInName, depth + 1, seen);
    return out;
  } finally {
    seen.delete(v); // the same object twice (not nested in itself) is not a cycle
  }
}
