import { DEFAULT_SEPARATORS, Hl7Segment, type Hl7Message, type ParseProblem, type Separators } from './hl7-message';

/**
 * Reads HL7 v2 text (already decoded from bytes by the adapter) into segments and raw fields. It never throws: a
 * text that is no message comes back with `problems`, which every mapping answers with an OperationOutcome.
 *
 * Separators are the ones the message declares in MSH-1 and MSH-2 (§2.5.4), not the defaults. Segments may end in CR
 * (the standard), LF or CRLF: senders and file exports use all three, sometimes mixed within one file.
 */
export function parseHl7(text: string): Hl7Message {
  const lines = segmentLines(text);
  const problems: ParseProblem[] = [];
  if (lines.length === 0 || !lines[0].startsWith('MSH')) {
    const found = lines.length === 0 ? 'the text is empty' : `it starts with '${lines[0].slice(0, 3)}'`;
    return { separators: DEFAULT_SEPARATORS, segments: [], problems: [{ expression: 'MSH', diagnostics: `An HL7 v2 message starts with an MSH segment; ${found}` }] };
  }
  const separators = separatorsOf(lines[0], problems);
  const segments = segmentsOf(lines, separators);
  const mshCount = segments.filter((s) => s.name === 'MSH').length;
  if (mshCount > 1) problems.push({ expression: 'MSH[2]', diagnostics: `The text holds ${mshCount} messages; read a batch file with parseHl7Batch` });
  return { separators, segments, problems };
}

/**
 * Reads a batch file (FHS/BHS … MSH … MSH … BTS/FTS, §2.10.3) or a file of messages one after the other into its
 * messages; batch header and trailer segments carry no clinical content and are left out.
 */
export function parseHl7Batch(text: string): Hl7Message[] {
  const lines = segmentLines(text).filter((l) => !/^(FHS|BHS|BTS|FTS)/.test(l));
  const messages: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('MSH') || messages.length === 0) messages.push([line]);
    else messages[messages.length - 1].push(line);
  }
  return messages.map((m) => parseHl7(m.join('\r')));
}

/**
 * Lines of the text, MLLP frame bytes and a BOM removed, empty lines dropped. A line that does not start like a
 * segment (three capitals or digits, then the field separator or the end) is part of the segment before it: senders
 * put raw line breaks into free text (report text in OBX-5, addresses) instead of \.br\, and mangled exports split
 * fields at what an editor took for a line end. It is kept as text after a line break rather than dropped.
 */
function segmentLines(text: string): string[] {
  const body = trimFrame(text);
  if (!body) return [];
  const fieldSeparator = body.startsWith('MSH') && body.length > 3 ? body[3] : '|';
  const lines: string[] = [];
  for (const line of body.split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    if (lines.length > 0 && !startsLikeSegment(line, fieldSeparator)) lines[lines.length - 1] += `\n${line}`;
    else lines.push(line);
  }
  return lines;
}

/** Leading BOM / MLLP start byte / blanks and trailing MLLP end bytes / blanks (a loop: an end-anchored regex rescans). */
function trimFrame(text: string): string {
  let start = 0;
  let end = text.length;
  const frame = (c: number): boolean => c === 0xfeff || c === 0x0b || c === 0x1c || c === 0x20 || (c >= 0x09 && c <= 0x0d);
  while (start < end && frame(text.charCodeAt(start))) start++;
  while (end > start && frame(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function startsLikeSegment(line: string, fieldSeparator: string): boolean {
  if (line.length < 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = line.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  }
  return line.length === 3 || line[3] === fieldSeparator;
}

function separatorsOf(msh: string, problems: ParseProblem[]): Separators {
  const field = msh[3];
  if (field === undefined || /[\sA-Za-z0-9]/.test(field)) {
    problems.push({ expression: 'MSH[1].1', diagnostics: 'MSH-1, the field separator, is missing or a letter, digit or blank' });
    return DEFAULT_SEPARATORS;
  }
  const end = msh.indexOf(field, 4);
  const declared = end < 0 ? msh.slice(4) : msh.slice(4, end);
  // A blank in MSH-2 means the sender uses no such separator (exports that lost the backslash write a space):
  // splitting or unescaping on it would mangle every value with a space in it.
  const at = (i: number, fallback: string): string => {
    const c = declared[i];
    if (c === undefined) return fallback;
    return /\s/.test(c) ? '' : c;
  };
  const separators: Separators = {
    field,
    component: at(0, '^'),
    repetition: at(1, '~'),
    escape: at(2, '\\'),
    subcomponent: at(3, '&'),
  };
  const used = [separators.field, separators.component, separators.repetition, separators.escape, separators.subcomponent].filter(Boolean);
  if (new Set(used).size !== used.length) {
    problems.push({ expression: 'MSH[1].2', diagnostics: `MSH-2 '${declared}' declares the same character for two separators` });
  }
  return separators;
}

function segmentsOf(lines: string[], separators: Separators): Hl7Segment[] {
  const counts = new Map<string, number>();
  const segments: Hl7Segment[] = [];
  for (const line of lines) {
    const parts = line.split(separators.field);
    const name = parts[0];
    const occurrence = (counts.get(name) ?? 0) + 1;
    counts.set(name, occurrence);
    // In MSH the field separator itself is MSH-1, so the split is one field short: put it back at [1].
    const fields = name === 'MSH' ? [name, separators.field, ...parts.slice(1)] : parts;
    segments.push(new Hl7Segment(name, fields, occurrence, separators));
  }
  return segments;
}
