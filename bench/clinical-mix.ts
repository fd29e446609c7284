/**
 * The clinical benchmark's messages, built from the real-looking samples in test/fixtures/hl7v2 and varied per
 * message the way a hospital's traffic varies: MSH-10, MSH-7, the patient (HIS id, 居民身份证 number with a valid
 * check character, name, sex, birth date, phone), visit and order numbers, and the OBX values. Patients are drawn
 * from a pool, so results and orders land on patients the ADT traffic registers and updates, as in a hospital.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMessage } from '../adapters/mllp/hl7-charset';
import { residentIdCheckDigit } from '../fhir-resources/profiles/resident-id';

export type MixKind = 'ORU' | 'ADT' | 'ORM';

const fixtures = [join(__dirname, '..'), join(__dirname, '../..')].map((root) => join(root, 'test/fixtures/hl7v2')).find((dir) => existsSync(dir))!;
const segmentsOf = (name: string): string[][] => decodeMessage(readFileSync(join(fixtures, name)), 'auto').text
  .split(/\r\n|\r|\n/).filter((s) => s.trim()).map((s) => s.split('|'));

/** ORU^R01 血常规 with its first 5 OBX (the "ORU^R01 with 5 OBX"), ADT^A04, ORM^O01. */
const TEMPLATES: Record<MixKind, string[][]> = {
  ORU: (() => {
    const all = segmentsOf('oru-cbc-utf8.hl7').filter((s) => s[0] !== 'NTE');
    return [...all.filter((s) => s[0] !== 'OBX'), ...all.filter((s) => s[0] === 'OBX').slice(0, 5)];
  })(),
  ADT: segmentsOf('adt-a04-utf8.hl7'),
  ORM: segmentsOf('orm-o01-utf8.hl7'),
};

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭'];
const GIVEN = ['小明', '秀英', '建国', '丽华', '雅婷', '志强', '桂兰', '海燕', '文杰', '玉兰', '晓东', '春梅'];
const AREAS = ['110101', '310104', '320102', '330106', '440106', '450103', '510104', '420102'];

interface PoolPatient { hisId: string; residentId: string; name: string; sex: 'M' | 'F'; birthDate: string; phone: string }

/** Patient `i` of the pool, the same every time it is drawn. */
function poolPatient(i: number): PoolPatient {
  const sex = i % 2 ? 'M' : 'F';
  const birthDate = `${1940 + (i % 70)}${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}`;
  // The sequence's last digit is odd for men and even for women (GB 11643-1999).
  const sequence = String(((Math.floor(i / 2) % 499) * 2) + (sex === 'M' ? 1 : 0)).padStart(3, '0');
  const id17 = `${AREAS[i % AREAS.length]}${birthDate}${sequence}`;
  return {
    hisId: String(7000000 + i).padStart(10, '0'), residentId: id17 + residentIdCheckDigit(id17)!, sex, birthDate,
    name: SURNAMES[i % SURNAMES.length] + GIVEN[Math.floor(i / SURNAMES.length) % GIVEN.length], phone: `139${String(10000000 + i).slice(-8)}`,
  };
}

/** MSH-n is at split index n-1 (MSH-1 is the separator itself); any other segment's field n at index n. */
function set(segments: string[][], name: string, field: number, value: string): void {
  for (const s of segments) {
    if (s[0] !== name) continue;
    const at = name === 'MSH' ? field - 1 : field;
    while (s.length <= at) s.push('');
    s[at] = value;
  }
}

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export interface MixMessage { kind: MixKind; controlId: string; text: string }

/**
 * Message `seq` of kind `kind`: a fresh MSH-10 (`run` keeps runs apart), a patient drawn from `patients`, fresh
 * order and visit numbers; an ADT is an A04 (registration) or, one time in three, an A08 (update).
 */
export function mixMessage(kind: MixKind, seq: number, run: string, patients: number, random: () => number = Math.random): MixMessage {
  const segments = TEMPLATES[kind].map((s) => [...s]);
  const p = poolPatient(Math.floor(random() * patients));
  const controlId = `${kind}${run}${seq}`;
  set(segments, 'MSH', 7, stamp(new Date()));
  set(segments, 'MSH', 10, controlId);
  set(segments, 'PID', 3, `${p.hisId}^^^HIS^PI~${p.residentId}^^^CHN^NNCHN`);
  set(segments, 'PID', 5, `${p.name}`);
  set(segments, 'PID', 7, p.birthDate);
  set(segments, 'PID', 8, p.sex);
  set(segments, 'PID', 13, `^PRN^PH^^^^^^^^^${p.phone}`);
  set(segments, 'PV1', 19, `V${run}${seq}`);
  if (kind === 'ADT') {
    const event = random() < 1 / 3 ? 'A08' : 'A04';
    set(segments, 'MSH', 9, `ADT^${event}^ADT_A01`);
    set(segments, 'EVN', 1, event);
  } else if (kind === 'ORU') {
    set(segments, 'ORC', 2, `O${run}${seq}^HIS`);
    set(segments, 'ORC', 3, `L${run}${seq}^LIS`);
    set(segments, 'OBR', 2, `O${run}${seq}^HIS`);
    set(segments, 'OBR', 3, `L${run}${seq}^LIS`);
    for (const obx of segments.filter((s) => s[0] === 'OBX')) obx[5] = (Number(obx[5]) * (0.8 + random() * 0.4)).toFixed(obx[5].includes('.') ? 2 : 0);
  } else {
    set(segments, 'ORC', 2, `E${run}${seq}^HIS`);
    set(segments, 'ORC', 4, `E${run}${seq}^HIS`);
    set(segments, 'OBR', 2, `E${run}${seq}^HIS`);
  }
  return { kind, controlId, text: segments.map((s) => s.join('|')).join('\r') + '\r' };
}
