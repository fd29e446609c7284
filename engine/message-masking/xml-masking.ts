import { isNameKey } from '../log-masking';
import { isAddressKey, isIdNumberKey, isPersonContext, isPhoneKey, isVendorNameKey, maskAddress, maskAll, maskIdNumber, maskName, maskPhone } from './field-masks';

/**
 * Patient identifiers in XML (HL7 v3 / CDA, SOAP bodies of the HIS and the platforms), by element: a person's
 * `<name>` (EN: `<part value>`, `<family>`, `<given>` or text), `<addr>` (AD) below the district, `<telecom>` (TEL),
 * the `extension` of an `<id>` whose root is the 居民身份证 OID, and elements whose name says what they hold
 * (`<姓名>`, `<patientName>`, `<idCard>`, `<mobile>`, `<address>`). A regex tokenizer rather than a DOM: the browser must
 * show what was received, byte for byte apart from the masks, including malformed XML that a parser would refuse.
 * XML carried escaped inside a text node (`&lt;PRPA_IN201311UV02…`, as some HIS SOAP services send it) is masked too.
 */

// 2.16.156.10011.1.3: 居民身份证号 (WS 363 / the national health information OID registry); .1.19 is the 健康卡号.
const DOCUMENT_ROOTS = new Set(['2.16.156.10011.1.3', '2.16.156.10011.1.19']);
// AD parts that locate a building rather than an area (ISO 21090 AddressPartType).
const AREA_PARTS = new Set(['STA', 'CTY', 'CNT', 'STB', 'ZIP', 'CEN', 'CPA', 'PRE']);
const HOUSE_PARTS = new Set(['BNR', 'BNN', 'BNS', 'BUI', 'UNID', 'UNIT', 'ADL', 'POB']);
const AREA_ELEMENTS = new Set(['state', 'city', 'county', 'country', 'postalcode', 'precinct', 'censustract']);
const NOT_A_PERSON = /classCode="(ORG|PLC|DEV|MMAT|ENT|SDLOC|MANU|HLTHCHRT)"/;

type Context = 'personName' | 'address' | 'telecom' | 'document' | 'phone' | 'idNumber' | 'addressText' | 'nameText' | undefined;

interface Frame {
  local: string;
  attrs: string;
  context: Context;
  /** personName: whether the surname character has been kept already (张 of 张^三). */
  keptSurname?: boolean;
}

const TAG = /<(\/?)([A-Za-z_\p{Script=Han}][\w:.\-\p{Script=Han}]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/gu;
const ATTR = (name: string) => new RegExp(`(\\s${name}\\s*=\\s*)("([^"]*)"|'([^']*)')`);

function localName(tag: string): string {
  return tag.slice(tag.indexOf(':') + 1);
}

function attr(attrs: string, name: string): string | undefined {
  const m = ATTR(name).exec(attrs);
  return m ? (m[3] ?? m[4]) : undefined;
}

function replaceAttr(attrs: string, name: string, mask: (v: string) => string): string {
  return attrs.replace(ATTR(name), (_m, head: string, _q: string, dq?: string, sq?: string) =>
    dq !== undefined ? `${head}"${mask(dq)}"` : `${head}'${mask(sq ?? '')}'`);
}

function isPersonOwner(owner: Frame | undefined): boolean {
  if (!owner || NOT_A_PERSON.test(owner.attrs)) return false;
  return /classCode="PSN"/.test(owner.attrs) || /person$/i.test(owner.local) || isPersonContext(owner.local) || /holder/i.test(owner.local);
}

function contextOf(local: string, attrs: string, parent: Frame | undefined): Context {
  const inherited = parent?.context;
  if (inherited === 'personName') return 'personName';
  if (inherited === 'address') return AREA_ELEMENTS.has(local.toLowerCase()) ? undefined : 'address';
  if (inherited === 'telecom') return 'telecom';
  if (local === 'name') return isPersonOwner(parent) ? 'personName' : undefined;
  if (local === 'addr') return 'address';
  if (local === 'telecom') return 'telecom';
  if ((local === 'id' || local === 'item') && DOCUMENT_ROOTS.has(attr(attrs, 'root') ?? '')) return 'document';
  if (isIdNumberKey(local)) return 'idNumber';
  if (isPhoneKey(local)) return 'phone';
  if (isAddressKey(local)) return 'addressText';
  if ((isNameKey(local) && local !== 'name' && local !== 'family' && local !== 'given') || isVendorNameKey(local)) return 'nameText';
  return undefined;
}

function maskNamePiece(frame: Frame, piece: string): string {
  const t = piece.trim();
  if (!t) return piece;
  const masked = frame.keptSurname ? maskAll(t) : maskName(t);
  frame.keptSurname = true;
  return piece.replace(t, masked);
}

/** The name frame whose surname rule applies (the `<name>` element itself, not its `<part>`). */
function nameFrame(stack: Frame[]): Frame | undefined {
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i].local === 'name' && stack[i].context === 'personName') return stack[i];
  return undefined;
}

function maskTag(local: string, attrs: string, context: Context, stack: Frame[]): string {
  switch (context) {
    case 'personName': {
      const frame = nameFrame(stack);
      return frame && local !== 'name' ? replaceAttr(attrs, 'value', (v) => maskNamePiece(frame, v)) : attrs;
    }
    case 'address':
      if (AREA_PARTS.has(attr(attrs, 'type') ?? '')) return attrs;
      return replaceAttr(attrs, 'value', HOUSE_PARTS.has(attr(attrs, 'type') ?? '') ? maskAll : maskAddress);
    case 'telecom':
      return /^\s*mailto:/i.test(attr(attrs, 'value') ?? '') ? attrs : replaceAttr(attrs, 'value', maskPhone);
    case 'document':
      return replaceAttr(attrs, 'extension', maskIdNumber);
    case 'nameText': return replaceAttr(attrs, 'value', maskName);
    case 'phone': return replaceAttr(attrs, 'value', maskPhone);
    case 'idNumber': return replaceAttr(attrs, 'value', maskIdNumber);
    default: return attrs;
  }
}

function maskTextNode(text: string, top: Frame | undefined, stack: Frame[], nested: (s: string) => string): string {
  if (!text.trim()) return text;
  switch (top?.context) {
    case 'personName': {
      const frame = nameFrame(stack);
      return frame ? maskNamePiece(frame, text) : text;
    }
    case 'nameText': return text.replace(text.trim(), maskName(text.trim()));
    case 'address':
    case 'addressText': return text.replace(text.trim(), maskAddress(text.trim()));
    case 'telecom':
    case 'phone': return maskPhone(text);
    case 'idNumber': return maskIdNumber(text);
    default: {
      // Escaped XML, or an HL7 v2 message whose segment ends are written &#13;: masked as the format it is, on the
      // decoded text, then encoded again. Other text is left to the caller's pattern pass over the whole document.
      if (!text.includes('&')) return nested(text);
      const decoded = unescapeXml(text);
      return decoded === text ? nested(text) : escapeXml(nested(decoded));
    }
  }
}

function unescapeXml(s: string): string {
  return s.replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

export function looksLikeXml(text: string): boolean {
  return /^\s*</.test(text);
}

/** `nested` masks a text node that may be a message of its own (escaped XML, HL7 v2 in a SOAP body). */
export function maskXml(xml: string, nested: (text: string) => string): string {
  const stack: Frame[] = [];
  let out = '';
  let last = 0;
  for (const m of xml.matchAll(TAG)) {
    const index = m.index ?? 0;
    out += maskTextNode(xml.slice(last, index), stack[stack.length - 1], stack, nested);
    last = index + m[0].length;
    const [whole, closing, tag, attrs, selfClosing] = m;
    const local = localName(tag);
    if (closing) {
      // Pop to the matching element: tolerate unclosed children in malformed XML.
      const at = stack.map((f) => f.local).lastIndexOf(local);
      if (at >= 0) stack.length = at;
      out += whole;
      continue;
    }
    const context = contextOf(local, attrs, stack[stack.length - 1]);
    const frame: Frame = { local, attrs, context };
    stack.push(frame);
    const masked = maskTag(local, attrs, context, stack);
    out += masked === attrs ? whole : whole.replace(attrs, masked);
    if (selfClosing) stack.pop();
  }
  out += maskTextNode(xml.slice(last), stack[stack.length - 1], stack, nested);
  return out;
}
