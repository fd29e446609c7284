/** hl7-standard ships no type declarations; this is the part of its API the simulators use. */
interface Hl7StandardMessage {
  transform(): void;
  get(field: string): unknown;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const HL7 = require('hl7-standard') as new (raw: string) => Hl7StandardMessage;

export interface ReceivedAck {
  /** MSA-1 */
  code: string;
  /** MSA-2 */
  controlId: string;
  /** MSA-3 and ERR-8, what a peer operator would read. */
  text: string;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') return Object.values(v as Record<string, unknown>).map(text).filter(Boolean).join('^');
  return '';
}

/**
 * Reads an acknowledgement with hl7-standard, an implementation independent of Lingshu's own MSH/MSA reader, so that
 * the simulators judge Lingshu's ACKs the way a third-party system would. Undefined when the reply is no ACK.
 */
export function readAckWithLibrary(message: string): ReceivedAck | undefined {
  try {
    const m = new HL7(message.endsWith('\r') ? message : `${message}\r`);
    m.transform();
    const code = text(m.get('MSA.1'));
    if (!code) return undefined;
    return { code, controlId: text(m.get('MSA.2')), text: [text(m.get('MSA.3')), text(m.get('ERR.8'))].filter(Boolean).join('; ') };
  } catch {
    return undefined;
  }
}

/** The fields of a received message a peer needs to answer it. */
export function readHeaderWithLibrary(message: string): { controlId: string; type: string; version: string; sendingApplication: string; sendingFacility: string } | undefined {
  try {
    const m = new HL7(message.endsWith('\r') ? message : `${message}\r`);
    m.transform();
    return {
      controlId: text(m.get('MSH.10')),
      type: text(m.get('MSH.9')),
      version: text(m.get('MSH.12')) || '2.4',
      sendingApplication: text(m.get('MSH.3')),
      sendingFacility: text(m.get('MSH.4')),
    };
  } catch {
    return undefined;
  }
}
