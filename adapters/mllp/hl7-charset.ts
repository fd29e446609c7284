import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

/**
 * Which charset a message's bytes are in. HL7 names it in MSH-18 (table 0211: 'UNICODE UTF-8', 'GB 18030-2000' …),
 * but Chinese LIS/HIS vendors write 'GBK', 'GB2312', 'UTF-8' or nothing at all, and some declare UTF-8 while sending
 * GBK. So a channel either fixes the charset (the vendor's real behaviour wins over its declaration) or says 'auto':
 * MSH-18 when it names a known charset, otherwise UTF-8 when the bytes are valid UTF-8, otherwise GB18030.
 * GB18030 is used for GBK and GB2312 as well: it is a strict superset of both, so decoding never loses a character.
 */
const HL7_CHARSETS: Record<string, string> = {
  ASCII: 'utf-8',
  UNICODEUTF8: 'utf-8',
  UTF8: 'utf-8',
  UNICODE: 'utf-16le',
  GB180302000: 'gb18030',
  GB18030: 'gb18030',
  GBK: 'gb18030',
  GB2312: 'gb18030',
  CP936: 'gb18030',
  'ISOIR58': 'gb18030',
  BIG5: 'big5',
  '88591': 'latin1',
};

/** The iconv name for an MSH-18 value, or undefined when it names nothing we can decode. */
export function charsetFromMsh18(value: string): string | undefined {
  const key = value.toUpperCase().replace(/[\s_\-/.]/g, '');
  if (!key) return undefined;
  if (HL7_CHARSETS[key]) return HL7_CHARSETS[key];
  return iconv.encodingExists(value) ? value.toLowerCase() : undefined;
}

export interface DecodedMessage {
  text: string;
  /** The iconv charset used, recorded with the message and reused for its ACK. */
  charset: string;
  /** What MSH-18 said when it named nothing usable (for the warning), else undefined. */
  unknownDeclaration?: string;
}

/** MSH-18 read from bytes decoded with a guessed charset: its value is ASCII, so any ASCII-compatible guess finds it. */
function declaredCharset(text: string): string {
  const msh = text.replace(/^\s+/, '').split(/\r\n|\r|\n/, 1)[0];
  if (!msh.startsWith('MSH') || msh.length < 4) return '';
  const fields = msh.split(msh[3]);
  // fields[0] = 'MSH', fields[1] = MSH-2, so MSH-n is fields[n-1]
  return (fields[17] ?? '').split(msh[5] ?? '~')[0].trim();
}

export function decodeMessage(bytes: Buffer, charset: string): DecodedMessage {
  if (charset !== 'auto') return { text: iconv.decode(bytes, charset), charset };
  const guess = isUtf8(bytes) ? 'utf-8' : 'gb18030';
  const text = iconv.decode(bytes, guess);
  const declared = declaredCharset(text);
  if (!declared) return { text, charset: guess };
  const named = charsetFromMsh18(declared);
  if (!named) return { text, charset: guess, unknownDeclaration: declared };
  // Between UTF-8 and GB18030 the bytes decide: Chinese text in GBK is practically never valid UTF-8, and vendors
  // that declare one while sending the other are common. Other declared charsets cannot be told apart by the bytes.
  if (named === 'utf-8' || named === 'gb18030') return { text, charset: guess };
  return { text: iconv.decode(bytes, named), charset: named };
}

export function encodeMessage(text: string, charset: string): Buffer {
  return charset === 'utf-8' ? Buffer.from(text, 'utf8') : iconv.encode(text, charset);
}

export function isKnownCharset(charset: string): boolean {
  return charset === 'auto' || iconv.encodingExists(charset);
}
