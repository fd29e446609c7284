import { DEFAULT_SEPARATORS, escapeHl7, MshHeader } from './hl7-header';

/** MSA-1 values: original mode (application ack) and enhanced mode (commit ack). */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** HL7 table 0357 (message error condition codes) entries this adapter reports. */
const ERROR_NAMES: Record<string, string> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '207': 'Application internal error',
};

export interface AckError {
  /** Segment and field the error is in, e.g. MSH / 10; a field is omitted when the error concerns the whole message. */
  segment: string;
  field?: number;
  code: keyof typeof ERROR_NAMES | string;
  /** Plain words for the sender's operator: what is wrong and what to do. */
  text: string;
}

export interface AckInput {
  /** The acknowledged message's header; undefined when it had none we could read. */
  msh?: MshHeader;
  code: AckCode;
  /** MSH-10 of the ACK itself. */
  controlId: string;
  error?: AckError;
  now?: Date;
}

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Builds an ACK (HL7 v2.5.1 §2.9 and §2.14.1): sender and receiver swapped, MSA-2 = the message's MSH-10, and on error
 * an ERR naming segment and field. ERR is written the way the message's own version reads it: ERR-1 (ELD) before
 * v2.5, ERR-2/3/4/8 from v2.5 on. MSA-3 repeats the text because many LIS/HIS vendors show only that field.
 */
export function buildAck(input: AckInput): string {
  const { msh, code, error } = input;
  const sep = msh?.separators ?? DEFAULT_SEPARATORS;
  const f = msh?.fields ?? [];
  const version = msh?.version || '2.5';
  const raw = (n: number) => f[n] ?? '';
  const encoding = `${sep.component}${sep.repetition}${sep.escape}${sep.subcomponent}`;
  const trigger = msh?.triggerEvent ?? '';
  const type = [`ACK`, trigger, trigger ? 'ACK' : ''].filter(Boolean).join(sep.component);
  const mshFields = ['MSH', encoding, raw(5), raw(6), raw(3), raw(4), timestamp(input.now ?? new Date()), '', type,
    escapeHl7(input.controlId, sep), raw(11) || 'P', escapeHl7(version, sep), '', '', '', '', raw(17), raw(18)];
  while (mshFields.length > 12 && mshFields[mshFields.length - 1] === '') mshFields.pop();
  const segments = [mshFields.join(sep.field)];
  const text = error ? escapeHl7(error.text, sep) : '';
  segments.push(['MSA', code, raw(10), text].join(sep.field).replace(new RegExp(`\\${sep.field}+$`), ''));
  if (error) {
    const name = ERROR_NAMES[error.code] ?? '';
    const location = [error.segment, '1', error.field ?? ''].join(sep.component).replace(new RegExp(`\\${sep.component}+$`), '');
    const modern = Number.parseFloat(version) >= 2.5;
    if (modern) {
      const errCode = [error.code, name, 'HL70357'].join(sep.component);
      segments.push(['ERR', '', location, errCode, 'E', '', '', '', text].join(sep.field));
    } else {
      const eld = [error.segment, '1', error.field ?? '', [error.code, name, 'HL70357'].join(sep.subcomponent)].join(sep.component);
      segments.push(['ERR', eld].join(sep.field));
    }
  }
  return segments.join('\r') + '\r';
}
