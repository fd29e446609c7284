import { maskAddress, maskAll, maskIdNumber, maskName, maskPhone } from './field-masks';

/**
 * Patient identifiers in an HL7 v2 message, masked by field position (v2.5 segment definitions) before the generic
 * pattern pass: names (XPN / XCN), addresses (XAD), phones (XTN) and identity-document identifiers (CX with an
 * identifier type of ID, NI, PPN …). Patient ids of the hospital (PI, MR, the HIS 病人ID) stay readable: they are
 * what an engineer traces a message by, and they identify nobody outside the hospital.
 */
type FieldKind = 'xpn' | 'xcn' | 'address' | 'phone' | 'identifiers' | 'document';

const FIELDS: Record<string, Record<number, FieldKind>> = {
  PID: { 2: 'identifiers', 3: 'identifiers', 4: 'identifiers', 5: 'xpn', 6: 'xpn', 9: 'xpn', 11: 'address', 13: 'phone', 14: 'phone', 19: 'document', 20: 'document' },
  PD1: { 4: 'xcn' },
  NK1: { 2: 'xpn', 4: 'address', 5: 'phone', 6: 'phone', 30: 'xpn', 31: 'phone', 32: 'address', 33: 'identifiers', 37: 'document' },
  PV1: { 7: 'xcn', 8: 'xcn', 9: 'xcn', 17: 'xcn', 52: 'xcn' },
  PV2: { 13: 'xcn' },
  ORC: { 10: 'xcn', 11: 'xcn', 12: 'xcn', 14: 'phone', 19: 'xcn' },
  OBR: { 16: 'xcn', 17: 'phone', 28: 'xcn', 32: 'xcn', 33: 'xcn', 34: 'xcn', 35: 'xcn' },
  OBX: { 16: 'xcn' },
  IN1: { 16: 'xpn', 19: 'address', 49: 'identifiers' },
  IN2: { 7: 'xpn' },
  GT1: { 3: 'xpn', 5: 'address', 6: 'phone', 7: 'phone', 12: 'document' },
  MRG: { 1: 'identifiers', 7: 'xpn' },
  TXA: { 5: 'xcn', 9: 'xcn', 10: 'xcn', 22: 'xcn' },
  EVN: { 5: 'xcn' },
  ROL: { 4: 'xcn' },
  AIP: { 3: 'xcn' },
  RXO: { 14: 'xcn' }, RXE: { 13: 'xcn' }, RXD: { 10: 'xcn' }, RXA: { 10: 'xcn' }, AIL: {}, PR1: { 8: 'xcn', 12: 'xcn' },
  SCH: { 12: 'xcn', 13: 'phone', 16: 'xcn', 17: 'phone', 20: 'xcn', 21: 'phone' },
  STF: { 3: 'xpn', 10: 'phone', 11: 'address' },
};

/**
 * Interfaces put providers where their HIS vendor thought fit (ORC-13 instead of ORC-12 is common), so in segments that
 * carry providers any field shaped like an XCN (`staff code^2–4 汉字 name`, nothing but empty components or a title
 * after it) is masked too, except the positions that hold codes with a 汉字 text of the same shape (an order item
 * 250101001^血常规 in OBR-4, a specimen in OBR-15, a location, an ethnic group).
 */
const PROVIDER_SEGMENTS = new Set(['ORC', 'OBR', 'OBX', 'PV1', 'PV2', 'RXO', 'RXE', 'RXD', 'RXA', 'TXA', 'EVN', 'SCH', 'AIP', 'AIL', 'PR1']);
const CODED_POSITIONS: Record<string, Set<number>> = {
  ORC: new Set([16, 17, 20, 21, 22, 23, 25, 26, 27, 28, 29, 30, 31]),
  OBR: new Set([4, 13, 15, 18, 19, 20, 21, 24, 26, 31, 44, 45, 46, 47]),
  OBX: new Set([3, 5, 6, 8, 17, 18, 23, 24, 25]),
  PV1: new Set([2, 3, 4, 6, 10, 11, 14, 15, 16, 18, 36, 37, 38, 39, 40, 41, 42, 43]),
  PV2: new Set([1, 2, 3, 4, 7, 8, 9, 23]),
  RXO: new Set([1, 4, 5, 6, 7, 9, 11, 13, 20]), RXE: new Set([2, 5, 6, 7, 9, 10, 11, 14, 27, 28]),
  RXD: new Set([2, 5, 6, 9, 13]), RXA: new Set([5, 7, 9, 11, 15, 17, 18, 19, 20]),
  SCH: new Set([6, 7, 8, 9, 11, 25]), AIL: new Set([3, 4, 12]), AIP: new Set([4, 12]), PR1: new Set([3, 4, 6, 7, 15, 16]),
  TXA: new Set([2, 3, 12, 17, 18, 19, 20, 21]), EVN: new Set([1, 4, 7]),
};
const XCN_SHAPE = /^[A-Za-z]{0,3}\d{1,12}\^\p{Script=Han}{2,4}(\^[^^]*)*$/u;

function looksLikeProvider(field: string, s: Separators): boolean {
  const first = field.split(s.repetition)[0];
  if (!XCN_SHAPE.test(s.component === '^' ? first : first.split(s.component).join('^'))) return false;
  // A coding system after the text (`D64.900^贫血^ICD-10`, `^L`) makes it a CE, not a name.
  return first.split(s.component).slice(2).every((c) => c === '' || /^\p{Script=Han}+$/u.test(c));
}

/** CX.5 identifier types of identity documents (HL7 table 0203) and the Chinese interfaces' spellings of them. */
const DOCUMENT_TYPES = new Set(['ID', 'NI', 'PPN', 'SS', 'DL', 'CZ', 'NNCHN', 'SFZ', '01', '身份证']);

interface Separators { field: string; component: string; repetition: string; subcomponent: string }

function separatorsOf(msh: string): Separators {
  return { field: msh[3] ?? '|', component: msh[4] ?? '^', repetition: msh[5] ?? '~', subcomponent: msh[7] ?? '&' };
}

/** XPN: family, given, middle names in components 1–3; XCN: the same one component later (component 1 is the id). */
function maskPersonField(field: string, firstName: number, s: Separators): string {
  return field.split(s.repetition).map((rep) => {
    let keptSurname = false;
    return rep.split(s.component).map((component, i) => {
      // An NDL (OBR-32…35) carries a whole CNN in component 1: id & family & given.
      const isCnn = firstName === 1 && i === 0 && component.includes(s.subcomponent);
      if (!isCnn && (i < firstName || i > firstName + 2)) return component;
      return component.split(s.subcomponent).map((sub, j) => {
        if (sub === '' || (isCnn && (j === 0 || j > 3))) return sub;
        if (keptSurname) return maskAll(sub);
        keptSurname = true;
        return maskName(sub);
      }).join(s.subcomponent);
    }).join(s.component);
  }).join(s.repetition);
}

function maskIdentifiers(field: string, s: Separators, documentsOnly: boolean): string {
  return field.split(s.repetition).map((rep) => {
    const components = rep.split(s.component);
    const type = (components[4] ?? '').toUpperCase();
    if (documentsOnly && !DOCUMENT_TYPES.has(type) && !DOCUMENT_TYPES.has(components[4] ?? '')) return rep;
    components[0] = components[0] ? maskIdNumber(components[0]) : components[0];
    return components.join(s.component);
  }).join(s.repetition);
}

/** XAD: street (1), other designation (2) go; city, province, district and postcode stay. */
function maskAddressField(field: string, s: Separators): string {
  return field.split(s.repetition).map((rep) => {
    const components = rep.split(s.component);
    components[0] = components[0] ? maskAddress(components[0]) : components[0];
    if (components[1]) components[1] = maskAll(components[1]);
    return components.join(s.component);
  }).join(s.repetition);
}

/** XTN: the number may be in component 1 (old style) or spread over 5–7 (country, area, local): every digit run counts. */
function maskPhoneField(field: string, s: Separators): string {
  return field.split(s.repetition).map((rep) => rep.split(s.component).map((c, i) => (i === 3 ? c : maskPhone(c))).join(s.component)).join(s.repetition);
}

function maskField(kind: FieldKind, field: string, s: Separators): string {
  switch (kind) {
    case 'xpn': return maskPersonField(field, 0, s);
    case 'xcn': return maskPersonField(field, 1, s);
    case 'address': return maskAddressField(field, s);
    case 'phone': return maskPhoneField(field, s);
    case 'identifiers': return maskIdentifiers(field, s, true);
    case 'document': return maskIdentifiers(field, s, false);
  }
}

/** True when the text is an HL7 v2 message (or batch), MLLP start byte allowed. */
export function looksLikeHl7v2(text: string): boolean {
  return /^[\x0b\s]*(MSH|FHS|BHS)[|^~\\&]/.test(text);
}

export function maskHl7v2(text: string): string {
  const msh = /(?:^|[\r\n\x0b])(MSH.{5})/.exec(text);
  const s = separatorsOf(msh?.[1] ?? 'MSH|^~\\&');
  return text.split(/(\r\n|\r|\n)/).map((segment) => {
    const id = segment.replace(/^[\x0b\x1c]+/, '').slice(0, 3);
    const positions = FIELDS[id] ?? {};
    if (!FIELDS[id] && !PROVIDER_SEGMENTS.has(id)) return segment;
    const fields = segment.split(s.field);
    for (const [n, kind] of Object.entries(positions)) {
      const i = Number(n); // fields[0] is the segment id, so field n is fields[n]
      if (i < fields.length && fields[i]) fields[i] = maskField(kind, fields[i], s);
    }
    if (PROVIDER_SEGMENTS.has(id)) {
      for (let i = 1; i < fields.length; i++) {
        if (!positions[i] && !CODED_POSITIONS[id]?.has(i) && looksLikeProvider(fields[i], s)) fields[i] = maskField('xcn', fields[i], s);
      }
    }
    return fields.join(s.field);
  }).join('');
}
