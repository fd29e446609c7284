import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import type { OutboundContext } from './mapping-context';
import { isOperationOutcome, MappingProblems } from './mapping-problems';
import { interactionMessage, readTransmission, type Transmission } from './transmission-wrapper';
import { parseV3 } from './v3-document';
import { V3_OID } from './v3-oids';
import { el, serializeXml } from './xml-writer';

/** MCCI_IN000002UV01 (formats.md §3; the platform's H0201Rp.xsl): AA accepted, AE error, AR rejected. */
export type AckTypeCode = 'AA' | 'AE' | 'AR';

export interface Acknowledgement {
  typeCode: AckTypeCode;
  /** acknowledgementDetail/text: 成功, or the reason. */
  text?: string;
  /** The id@extension of the message acknowledged. */
  targetMessageId?: string;
}

export function buildAcknowledgement(ack: Acknowledgement, ctx: OutboundContext): string {
  return serializeXml(interactionMessage('MCCI_IN000002UV01', ctx,
    el('acknowledgement', { typeCode: ack.typeCode },
      ack.targetMessageId !== undefined && el('targetMessage', {}, el('id', { root: V3_OID.messageId, extension: ack.targetMessageId })),
      el('acknowledgementDetail', {}, el('text', { value: ack.text ?? '' })))));
}

/**
 * The acknowledgement for a mapping result: AA when it produced a Bundle, AE with every problem (diagnostics and
 * location) otherwise, addressed back to the sender of the message when it could be read.
 */
export function acknowledgementFor(result: Bundle | OperationOutcome, target: Transmission | undefined, ctx: OutboundContext): string {
  const receiver = target?.senderDevice ?? ctx.receiverDevice;
  const text = isOperationOutcome(result)
    ? (result.issue ?? []).map((i) => `${i.diagnostics} (${i.expression?.join(', ')})`).join('; ')
    : '成功';
  return buildAcknowledgement(
    { typeCode: isOperationOutcome(result) ? 'AE' : 'AA', text, targetMessageId: target?.messageId },
    { ...ctx, receiverDevice: receiver },
  );
}

/** Reads a peer's acknowledgement (an MCCI, or the one inside a query answer). */
export function readAcknowledgement(xml: string): Acknowledgement | OperationOutcome {
  const doc = parseV3(xml);
  if (isOperationOutcome(doc)) return doc;
  const problems = new MappingProblems();
  readTransmission(doc.root, problems);
  const ack = doc.root.child('acknowledgement');
  const typeCode = ack?.attr('typeCode');
  if (!ack || !typeCode) problems.add('required', 'acknowledgement@typeCode is missing', ack ? ack.attrPath('typeCode') : `${doc.root.path}/acknowledgement`);
  else if (!['AA', 'AE', 'AR', 'CA', 'CE', 'CR'].includes(typeCode)) problems.add('code-invalid', `${typeCode} is not an acknowledgement type (AA, AE, AR)`, ack.attrPath('typeCode'));
  if (problems.any) return problems.outcome();
  // CA/CE/CR are the commit-level forms of the same three answers (HL7 v3 AcknowledgementType).
  const normalized = ({ CA: 'AA', CE: 'AE', CR: 'AR' } as Record<string, AckTypeCode>)[typeCode!] ?? (typeCode as AckTypeCode);
  const text = ack!.at('acknowledgementDetail', 'text')?.attr('value');
  const targetMessageId = ack!.at('targetMessage', 'id')?.attr('extension');
  return { typeCode: normalized, ...(text !== undefined ? { text } : {}), ...(targetMessageId !== undefined ? { targetMessageId } : {}) };
}
