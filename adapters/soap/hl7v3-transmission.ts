import { randomUUID } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { escapeXml } from './soap-fault';
import { refuseDtd } from './xml-guard';

/**
 * The HL7 v3 transmission wrapper, read only as far as transport needs it: the message id to acknowledge, the
 * interaction, and who sent it (to address the acknowledgement back). Content stays unmapped (mappings/hl7v3 does that).
 * OIDs and layout as in the 互联互通 samples (../shared/domain/formats.md §3).
 */
export interface Transmission {
  /** Root element, e.g. PRPA_IN201311UV02. */
  interaction: string;
  /** id@extension (the message UUID under root 2.16.156.10011.2.5.1.1). */
  messageId?: string;
  messageIdRoot?: string;
  senderDevice?: string;
  receiverDevice?: string;
}

export class Hl7v3FormatError extends Error {
  override readonly name = 'Hl7v3FormatError';
}

export const OID = {
  messageId: '2.16.156.10011.2.5.1.1',
  interactionId: '2.16.156.10011.2.5.1.2',
  device: '2.16.156.10011.2.5.1.3',
} as const;

const V3_NS = 'urn:hl7-org:v3';
// Interaction ids: four letters, _IN, six digits, then the ballot suffix (UV01, UV02, UV, PL …).
const INTERACTION = /^[A-Z]{4}_IN\d{6}[A-Z0-9]*$/;

const parser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, parseAttributeValue: false, parseTagValue: false,
  // Entities cannot occur (refuseDtd runs first); the five predefined ones are still decoded.
  processEntities: true,
});

type Node = Record<string, unknown>;
const child = (n: unknown, name: string): Node | undefined => {
  const v = (n as Node | undefined)?.[name];
  return (Array.isArray(v) ? v[0] : v) as Node | undefined;
};
const attr = (n: Node | undefined, name: string): string | undefined => {
  const v = n?.[`@${name}`];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
};
const deviceId = (party: Node | undefined): string | undefined => {
  const id = child(child(party, 'device'), 'id');
  return attr(child(id, 'item'), 'extension') ?? attr(id, 'extension');
};

/** Reads the wrapper of an HL7 v3 interaction; throws Hl7v3FormatError saying what is wrong. */
export function readTransmission(xml: string): Transmission {
  refuseDtd(xml, 'HL7 v3 message');
  if (!xml.trim()) throw new Hl7v3FormatError('message is empty');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Hl7v3FormatError(`message is not well-formed XML: ${valid.err.msg}${valid.err.col ? ` (line ${valid.err.line}, column ${valid.err.col})` : ''}`);
  const doc = parser.parse(xml) as Node;
  const rootName = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('#'));
  if (!rootName) throw new Hl7v3FormatError('message has no root element');
  if (!INTERACTION.test(rootName)) throw new Hl7v3FormatError(`root element ${rootName} is not an HL7 v3 interaction (e.g. PRPA_IN201311UV02)`);
  const rootTag = new RegExp(`<(?:[\\w.-]+:)?${rootName}\\b[^>]*>`).exec(xml)?.[0] ?? '';
  if (!rootTag.includes(V3_NS)) throw new Hl7v3FormatError(`${rootName} is not in the ${V3_NS} namespace`);
  const root = child(doc, rootName);
  const id = child(root, 'id');
  const interactionId = child(root, 'interactionId');
  if (!attr(id, 'extension')) throw new Hl7v3FormatError(`${rootName}/id@extension (message id) is missing`);
  if (!interactionId) throw new Hl7v3FormatError(`${rootName}/interactionId is missing`);
  return {
    interaction: rootName,
    messageId: attr(id, 'extension'),
    messageIdRoot: attr(id, 'root'),
    senderDevice: deviceId(child(root, 'sender')),
    receiverDevice: deviceId(child(root, 'receiver')),
  };
}

function hl7Time(d: Date): string {
  // creationTime is local time without zone in the 互联互通 samples (yyyyMMddHHmmss); the hospitals run on UTC+8.
  const t = new Date(d.getTime() + 8 * 3600_000).toISOString();
  return t.slice(0, 19).replace(/[-T:]/g, '');
}

export interface AckOptions {
  typeCode: 'AA' | 'AE';
  /** Text of acknowledgementDetail: 成功 or the reason for AE. */
  text: string;
  /** The message being acknowledged, when it could be read. */
  target?: Transmission;
  /** Our device id (sender of the ack). */
  device: string;
  now?: Date;
}

/** MCCI_IN000002UV01 acknowledgement, addressed back to the original sender (formats.md §3; lzihe H0201Rp.xsl). */
export function mcciAck(o: AckOptions): string {
  const deviceParty = (tag: string, typeCode: string, ext: string | undefined) =>
    `  <${tag} typeCode="${typeCode}">\n    <device classCode="DEV" determinerCode="INSTANCE">\n` +
    `      <id><item root="${OID.device}" extension="${escapeXml(ext ?? '')}"/></id>\n    </device>\n  </${tag}>\n`;
  const target = o.target?.messageId
    ? `    <targetMessage><id root="${escapeXml(o.target.messageIdRoot ?? OID.messageId)}" extension="${escapeXml(o.target.messageId)}"/></targetMessage>\n`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<MCCI_IN000002UV01 ITSVersion="XML_1.0" xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <id root="${OID.messageId}" extension="${randomUUID()}"/>
  <creationTime value="${hl7Time(o.now ?? new Date())}"/>
  <interactionId root="${OID.interactionId}" extension="MCCI_IN000002UV01"/>
  <processingCode code="P"/>
  <processingModeCode/>
  <acceptAckCode code="AL"/>
${deviceParty('receiver', 'RCV', o.target?.senderDevice)}${deviceParty('sender', 'SND', o.device)}  <acknowledgement typeCode="${o.typeCode}">
${target}    <acknowledgementDetail><text value="${escapeXml(o.text)}"/></acknowledgementDetail>
  </acknowledgement>
</MCCI_IN000002UV01>
`;
}

export interface ReadAck {
  typeCode: string;
  text?: string;
}

/** The acknowledgement inside a peer's answer, if the answer is one (a query answer carries one too). */
export function readAck(xml: string): ReadAck | undefined {
  refuseDtd(xml, 'HL7 v3 answer');
  if (XMLValidator.validate(xml) !== true) throw new Hl7v3FormatError('answer is not well-formed XML');
  const doc = parser.parse(xml) as Node;
  const rootName = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('#'));
  const ack = child(child(doc, rootName ?? ''), 'acknowledgement');
  if (!ack) return undefined;
  const detail = child(ack, 'acknowledgementDetail');
  return { typeCode: attr(ack, 'typeCode') ?? '', text: attr(child(detail, 'text'), 'value') };
}
