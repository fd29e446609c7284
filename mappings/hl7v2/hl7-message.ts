/**
 * A parsed HL7 v2 message. Segments keep their fields as the raw (still escaped) strings between field separators;
 * repetitions, components and subcomponents are split and unescaped only when a mapping asks for them. A mapping
 * reads a few dozen of the hundreds of fields a message carries, so splitting everything up front is wasted work
 * (bench/hl7v2-parse.ts measures both ways).
 */
export interface Separators {
  field: string;
  component: string;
  repetition: string;
  /** '' when the sender declared none (a blank in MSH-2): then nothing is unescaped. */
  escape: string;
  subcomponent: string;
}

export const DEFAULT_SEPARATORS: Separators = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

/** A structural problem found while parsing; the mappings answer it with an OperationOutcome. */
export interface ParseProblem {
  /** Where, in the `SEG[occurrence].field` notation the mappings use (1-based like HL7 itself). */
  expression: string;
  diagnostics: string;
}

export class Hl7Segment {
  /** First repetitions already split, by field number: a mapping reads several components of the same field. */
  private readonly firsts: Array<Hl7Field | undefined> = [];

  constructor(
    readonly name: string,
    /** Raw field strings, index = HL7 field number ([0] is the segment name; for MSH [1] = MSH-1, [2] = MSH-2). */
    readonly fields: readonly string[],
    /** 1-based occurrence of this segment name in the message, for error locations: PID[1], OBX[3]. */
    readonly occurrence: number,
    private readonly sep: Separators,
  ) {}

  /** `OBX[2].5`, the location notation of OperationOutcome.issue.expression for this message. */
  where(field?: number): string {
    return field === undefined ? `${this.name}[${this.occurrence}]` : `${this.name}[${this.occurrence}].${field}`;
  }

  raw(field: number): string {
    return this.fields[field] ?? '';
  }

  /**
   * One component (or subcomponent) of the first repetition, unescaped; '' when absent. The HL7 null `""` reads as
   * '' too: these mappings write whole resources, so "explicitly cleared" and "not sent" come to the same.
   */
  get(field: number, component = 1, subcomponent = 1): string {
    const raw = this.fields[field];
    if (!raw) return '';
    if (this.name === 'MSH' && field <= 2) return raw;
    return this.first(field).get(component, subcomponent);
  }

  /** Every repetition of a field (an empty list when the field is empty). */
  repetitions(field: number): Hl7Field[] {
    const raw = this.fields[field];
    if (!raw) return [];
    if (this.name === 'MSH' && field <= 2) return [new Hl7Field(raw, NO_SPLIT)];
    const reps = this.sep.repetition ? raw.split(this.sep.repetition) : [raw];
    return reps.map((r) => new Hl7Field(r, this.sep));
  }

  /** The first repetition as a field object, for data types read component by component (CX, XPN, CE …). */
  first(field: number): Hl7Field {
    let parsed = this.firsts[field];
    if (!parsed) {
      parsed = new Hl7Field(firstRepetition(this.fields[field] ?? '', this.sep), this.sep);
      this.firsts[field] = parsed;
    }
    return parsed;
  }
}

const NO_SPLIT: Separators = { field: '', component: '', repetition: '', escape: '', subcomponent: '' };

function firstRepetition(raw: string, sep: Separators): string {
  if (!sep.repetition) return raw;
  const at = raw.indexOf(sep.repetition);
  return at < 0 ? raw : raw.slice(0, at);
}

/** One repetition of a field: components and subcomponents on demand. */
export class Hl7Field {
  private parts?: string[];

  constructor(readonly raw: string, private readonly sep: Separators) {}

  get(component = 1, subcomponent = 1): string {
    const comp = this.component(component);
    if (!comp) return '';
    const sub = this.sep.subcomponent && comp.includes(this.sep.subcomponent) ? comp.split(this.sep.subcomponent)[subcomponent - 1] ?? '' : subcomponent === 1 ? comp : '';
    // Padding is not data in coded and identifying components; text keeps its spaces through text().
    return sub === '""' ? '' : unescapeHl7(sub, this.sep).trim();
  }

  /**
   * The whole repetition as text, unescaped, component separators kept: for ST/TX/FT, which have no components, a
   * raw separator in them is text the sender did not escape.
   */
  text(): string {
    return this.raw === '""' ? '' : unescapeHl7(this.raw, this.sep);
  }

  /** Number of components present (trailing empty ones included as sent). */
  get componentCount(): number {
    return this.split().length;
  }

  /** Whether every component is empty. */
  get isEmpty(): boolean {
    return this.raw === '' || this.raw === '""';
  }

  private component(n: number): string {
    return this.split()[n - 1] ?? '';
  }

  private split(): string[] {
    if (!this.parts) this.parts = this.sep.component ? this.raw.split(this.sep.component) : [this.raw];
    return this.parts;
  }
}

/**
 * Replaces the escape sequences of HL7 v2 §2.7 with the characters they stand for: \F\ \S\ \T\ \R\ \E\ (the
 * separators declared in MSH-1/MSH-2, not the defaults), \Xhh…\ (hex bytes: UTF-8 when they form valid UTF-8, else
 * one Latin-1 character per byte), and the formatting commands \.br\ and \.sp\ as line breaks. Highlighting (\H\ \N\)
 * and character-set switches (\C…\ \M…\, which iconv has already applied to the whole message) carry no text and
 * are dropped; a sequence we do not know stays as it was sent, so no text is lost.
 */
export function unescapeHl7(value: string, sep: Separators): string {
  const e = sep.escape;
  if (!e || !value.includes(e)) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf(e, i);
    if (start < 0) break;
    const end = value.indexOf(e, start + 1);
    if (end < 0) break;
    out += value.slice(i, start);
    const code = value.slice(start + 1, end);
    const replaced = escapeSequence(code, sep);
    if (replaced === undefined) {
      // Not a sequence: keep the escape character and go on from the next one, which may open a real sequence.
      out += e;
      i = start + 1;
      continue;
    }
    out += replaced;
    i = end + 1;
  }
  return out + value.slice(i);
}

function escapeSequence(code: string, sep: Separators): string | undefined {
  switch (code) {
    case 'F': return sep.field;
    case 'S': return sep.component;
    case 'T': return sep.subcomponent;
    case 'R': return sep.repetition;
    case 'E': return sep.escape;
    case 'H': case 'N': return '';
    case '.br': case '.sp': return '\n';
  }
  if (/^X(?:[0-9A-Fa-f]{2})+$/.test(code)) return hexText(code.slice(1));
  if (/^[CM][0-9A-Fa-f]{4,6}$/.test(code)) return '';
  if (/^\.(?:fi|nf|in[+-]?\d*|ti[+-]?\d*|sk\d*|ce)$/.test(code)) return '';
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexText(hex: string): string {
  const bytes = Uint8Array.from(hex.match(/../g) as string[], (h) => parseInt(h, 16));
  try {
    return utf8.decode(bytes);
  } catch {
    return String.fromCharCode(...bytes);
  }
}

export interface Hl7Message {
  separators: Separators;
  segments: Hl7Segment[];
  /** Problems that make the message unusable (no MSH, several messages in one); empty for a readable message. */
  problems: ParseProblem[];
}

export function firstSegment(message: Hl7Message, name: string): Hl7Segment | undefined {
  return message.segments.find((s) => s.name === name);
}
