/**
 * Reads the few HL7 v2 fields the MLLP adapter itself needs: MSH-1…MSH-18 to acknowledge a message and pick its
 * charset, MSA/ERR to judge a peer's acknowledgement. Content mapping parses whole messages elsewhere (mappings/).
 *
 * Why not hl7-standard here: it parses every segment to answer one MSH field (~1 ms for a 34-segment ORU against
 * ~2 µs for this, on the 2-core server that also runs the database), it ignores the separators a message declares in
 * MSH-1/MSH-2 and it leaves escape sequences (\F\ …) in the values. The simulators and tests use it as an independent
 * reader of what this adapter writes.
 */

export interface Separators {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export const DEFAULT_SEPARATORS: Separators = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

export interface MshHeader {
  separators: Separators;
  /** Raw (still escaped) MSH fields, index = HL7 field number; [1] is the field separator itself. */
  fields: string[];
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-9 components: ORU, R01, ORU_R01. */
  messageCode: string;
  triggerEvent: string;
  /** MSH-10, the sender's message control id. */
  controlId: string;
  processingId: string;
  version: string;
  /** MSH-15 / MSH-16 (enhanced acknowledgement mode): AL, NE, ER, SU or ''. */
  acceptAckType: string;
  appAckType: string;
  /** MSH-18 first repetition, as written by the sender ('UNICODE UTF-8', 'GB 18030-2000', 'GBK' …). */
  characterSet: string;
}

export class Hl7HeaderError extends Error {
  /** segment / field name the problem is in, and the HL7 table 0357 error code to report in ERR. */
  constructor(message: string, readonly segment: string, readonly field: number | undefined, readonly code: '100' | '101' | '102',
    /** What could be read, so that the NAK can still address the sender and use its version and separators. */
    readonly partial?: MshHeader) {
    super(message);
  }
}

function firstSegment(text: string, name: string): string | undefined {
  for (const segment of text.split(/\r\n|\r|\n/)) {
    if (segment.startsWith(name)) return segment;
  }
  return undefined;
}

export function unescapeHl7(value: string, sep: Separators): string {
  if (!value.includes(sep.escape)) return value;
  const e = sep.escape.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  return value.replace(new RegExp(`${e}([FSTRE]|X[0-9A-Fa-f]*|\\.br)${e}`, 'g'), (_m, code: string) => {
    switch (code) {
      case 'F': return sep.field;
      case 'S': return sep.component;
      case 'T': return sep.subcomponent;
      case 'R': return sep.repetition;
      case 'E': return sep.escape;
      case '.br': return '\r';
      default: return Buffer.from(code.slice(1), 'hex').toString('latin1');
    }
  });
}

export function escapeHl7(value: string, sep: Separators = DEFAULT_SEPARATORS): string {
  let out = '';
  for (const ch of value) {
    if (ch === sep.escape) out += `${sep.escape}E${sep.escape}`;
    else if (ch === sep.field) out += `${sep.escape}F${sep.escape}`;
    else if (ch === sep.component) out += `${sep.escape}S${sep.escape}`;
    else if (ch === sep.subcomponent) out += `${sep.escape}T${sep.escape}`;
    else if (ch === sep.repetition) out += `${sep.escape}R${sep.escape}`;
    else if (ch === '\r' || ch === '\n') out += ' ';
    else out += ch;
  }
  return out;
}

function component(field: string | undefined, index: number, sep: Separators): string {
  return unescapeHl7((field ?? '').split(sep.repetition)[0].split(sep.component)[index] ?? '', sep);
}

/** Reads MSH; throws Hl7HeaderError naming the field when the message cannot be acknowledged properly. */
export function readMsh(text: string): MshHeader {
  const start = text.replace(/^[\r\n\s]+/, '');
  if (!start.startsWith('MSH') || start.length < 8) throw new Hl7HeaderError('the message does not start with an MSH segment', 'MSH', undefined, '100');
  const segment = start.split(/\r\n|\r|\n/, 1)[0];
  const field = segment[3];
  const enc = segment.slice(4, 8);
  const separators: Separators = {
    field,
    component: enc[0] ?? '^',
    repetition: enc[1] ?? '~',
    escape: enc[2] ?? '\\',
    subcomponent: enc[3] ?? '&',
  };
  if (/[A-Za-z0-9\s]/.test(field) || new Set([field, ...enc.slice(0, 2)]).size < 3) {
    throw new Hl7HeaderError('MSH-1/MSH-2 do not declare usable separators', 'MSH', 2, '102');
  }
  // split on the field separator: parts[0] = 'MSH', parts[1] = MSH-2; MSH-1 is the separator itself.
  const parts = segment.split(field);
  const fields = ['MSH', field, ...parts.slice(1)];
  const get = (n: number, c = 0) => component(fields[n], c, separators);
  const header: MshHeader = {
    separators,
    fields,
    sendingApplication: get(3),
    sendingFacility: get(4),
    receivingApplication: get(5),
    receivingFacility: get(6),
    messageCode: get(9, 0),
    triggerEvent: get(9, 1),
    controlId: unescapeHl7((fields[10] ?? '').split(separators.component)[0], separators),
    processingId: get(11),
    version: get(12),
    acceptAckType: get(15).toUpperCase(),
    appAckType: get(16).toUpperCase(),
    characterSet: (fields[18] ?? '').split(separators.repetition)[0].trim(),
  };
  if (!header.messageCode) throw new Hl7HeaderError('MSH-9 (message type) is empty', 'MSH', 9, '101', header);
  if (!header.controlId) throw new Hl7HeaderError('MSH-10 (message control id) is empty', 'MSH', 10, '101', header);
  return header;
}

export interface AckReading {
  /** MSA-1: AA / AE / AR, or CA / CE / CR in enhanced mode. */
  code: string;
  /** MSA-2: the control id of the message this acknowledges. */
  controlId: string;
  /** MSA-3 and every ERR segment's location and text, joined for the error record. */
  text: string;
}

/** Reads a peer's acknowledgement; undefined when the reply is no HL7 acknowledgement at all. */
export function readAck(text: string): AckReading | undefined {
  let header: MshHeader;
  try {
    header = readMsh(text);
  } catch {
    return undefined;
  }
  const sep = header.separators;
  const msa = firstSegment(text, `MSA${sep.field}`);
  if (!msa) return undefined;
  const f = msa.split(sep.field);
  const code = (f[1] ?? '').trim().toUpperCase();
  if (!/^[AC][AER]$/.test(code)) return undefined;
  const notes = [unescapeHl7(f[3] ?? '', sep)];
  for (const err of text.split(/\r\n|\r|\n/).filter((s) => s.startsWith(`ERR${sep.field}`))) {
    const e = err.split(sep.field);
    const where = (e[2] || e[1] || '').split(sep.component).slice(0, 3).filter(Boolean).join('-');
    const what = [component(e[3], 1, sep) || component(e[3], 0, sep), unescapeHl7(e[8] ?? '', sep)].filter(Boolean).join(': ');
    notes.push([where, what].filter(Boolean).join(' '));
  }
  return { code, controlId: unescapeHl7(f[2] ?? '', sep), text: notes.filter(Boolean).join('; ') };
}
