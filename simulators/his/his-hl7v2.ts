import { hl7Timestamp } from '../mllp/oru-message';
import type { HisOrder, HisPatient } from './his-state';

/**
 * HL7 v2.4 as the simulated HIS sends it over MLLP, for hospitals whose HIS still speaks v2 beside (or instead of)
 * the 互联互通 services: ADT^A04 (门诊登记) / ADT^A08 (患者信息更新) and ORM^O01 (新开医嘱 / 申请单). Patient ids
 * are written under the assigning authority `HIS`, which the hospital configuration maps to the patient id system.
 */

const AUTHORITY = 'HIS';
const FACILITY = '桃源院区';
const DEPARTMENT = 'NKMZ^^^桃源院区^^^^^内科门诊';
const DOCTOR = '1024^覃海峰^^^^^^^^^^^^^主任医师';
/** OBR-24 diagnostic service section by HIS order category, so the mapping files each under 检验 / 检查 / 治疗. */
const SECTION: Readonly<Record<HisOrder['category'], string>> = { lab: 'LAB', exam: 'RAD', treatment: 'PT', drug: 'PHR' };
const SEX: Readonly<Record<HisPatient['gender'], string>> = { '1': 'M', '2': 'F', '0': 'U', '9': 'U' };

export type AdtEvent = 'A04' | 'A08';

/** Escapes the HL7 delimiters a name or address could contain (a `&` in an address is common enough). */
function esc(v: string | undefined): string {
  return (v ?? '').replace(/\\/g, '\\E\\').replace(/\|/g, '\\F\\').replace(/\^/g, '\\S\\').replace(/&/g, '\\T\\').replace(/~/g, '\\R\\');
}

function msh(type: string, controlId: string, now: Date): string {
  return `MSH|^~\\&|HIS|${FACILITY}|LINGSHU|${FACILITY}|${hl7Timestamp(now)}||${type}|${controlId}|P|2.4|||AL|NE|CHN|UNICODE UTF-8`;
}

function pid(p: HisPatient): string {
  const ids = [`${esc(p.id)}^^^${AUTHORITY}^PI`, ...(p.idCard ? [`${esc(p.idCard)}^^^CHN^NNCHN`] : [])].join('~');
  const phone = p.phone ? `^PRN^PH^^^^^^^^^${esc(p.phone)}` : '';
  return `PID|1||${ids}||${esc(p.name)}||${p.birthDate ?? ''}|${SEX[p.gender]}|||${esc(p.address)}||${phone}`;
}

function visitNumber(p: HisPatient, now: Date): string {
  return `GH${hl7Timestamp(now).slice(0, 8)}${p.id.slice(-5)}`;
}

/** ADT^A04 (a patient registered at the 挂号处) or ADT^A08 (their details changed). */
export function adtMessage(event: AdtEvent, p: HisPatient, controlId: string, now = new Date()): string {
  const ts = hl7Timestamp(now);
  return [
    msh(`ADT^${event}^ADT_A01`, controlId, now),
    `EVN|${event}|${ts}`,
    pid(p),
    `PV1|1|O|${DEPARTMENT}||||${DOCTOR}||||||||||||${visitNumber(p, now)}|||||||||||||||||||||||||${ts}`,
  ].join('\r') + '\r';
}

/** ORM^O01 with one ORC/OBR pair per ordered item; the 医嘱号 is the placer number, so a resend updates, never adds. */
export function ormMessage(p: HisPatient, orders: HisOrder[], controlId: string, now = new Date()): string {
  const ts = hl7Timestamp(now);
  const items = orders.flatMap((o, n) => [
    `ORC|NW|${esc(o.id)}^HIS||${esc(o.id)}^HIS|SC||^^^^^R|||${o.orderedAt}|||${DOCTOR}`,
    `OBR|${n + 1}|${esc(o.id)}^HIS||${esc(o.code)}^${esc(o.name)}^L|||${ts}|||||||||${DOCTOR}||||||||${SECTION[o.category]}`,
  ]);
  return [
    msh('ORM^O01^ORM_O01', controlId, now),
    pid(p),
    `PV1|1|O|${DEPARTMENT}||||${DOCTOR}||||||||||||${visitNumber(p, now)}`,
    ...items,
  ].join('\r') + '\r';
}
