import type { OperationOutcome } from '@medplum/fhirtypes';
import { MappingProblems } from './mapping-problems';
import type { OutboundContext } from './mapping-context';
import type { V3Element } from './v3-document';
import { V3_OID } from './v3-oids';
import { fhirToTs, tsToDateTime } from './v3-time';
import { el, type XmlNode } from './xml-writer';

/** The transmission wrapper every 互联互通 interaction starts with (formats.md §3, sample H0201Rt.xml). */
export interface Transmission {
  interaction: string;
  messageId: string;
  /** creationTime as a FHIR dateTime. */
  creationTime?: string;
  senderDevice?: string;
  receiverDevice?: string;
}

function deviceId(party: V3Element | undefined): string | undefined {
  const id = party?.at('device', 'id');
  return id?.child('item')?.attr('extension') ?? id?.attr('extension');
}

/**
 * Reads the wrapper. The interaction is the root element's name; interactionId@extension must agree with it
 * (trimmed: the platform's own sample H0203Rt.xml sends "PRPA_IN201304UV02 " with a trailing space).
 */
export function readTransmission(root: V3Element, problems: MappingProblems): Transmission | undefined {
  const id = root.child('id');
  const messageId = id?.attr('extension');
  if (!messageId) problems.add('required', 'the message id (id@extension) is missing', id ? id.attrPath('extension') : `${root.path}/id`);
  const interactionId = root.child('interactionId');
  const declared = interactionId?.attr('extension');
  if (declared && declared !== root.name) {
    problems.add('value', `interactionId says ${declared} but the root element is ${root.name}`, interactionId!.attrPath('extension'));
  }
  const time = root.child('creationTime');
  const rawTime = time?.attr('value');
  const creationTime = rawTime ? tsToDateTime(rawTime) : undefined;
  if (rawTime && !creationTime) problems.add('value', `creationTime ${rawTime} is not a valid date and time (yyyyMMddHHmmss)`, time!.attrPath('value'));
  if (!messageId) return undefined;
  return {
    interaction: root.name, messageId, creationTime,
    senderDevice: deviceId(root.child('sender')), receiverDevice: deviceId(root.child('receiver')),
  };
}

export function readTransmissionOrOutcome(root: V3Element): Transmission | OperationOutcome {
  const problems = new MappingProblems();
  const t = readTransmission(root, problems);
  return problems.any || !t ? problems.outcome() : t;
}

function party(tag: 'receiver' | 'sender', device: string): XmlNode {
  return el(tag, { typeCode: tag === 'receiver' ? 'RCV' : 'SND' },
    el('device', { classCode: 'DEV', determinerCode: 'INSTANCE' }, el('id', {}, el('item', { root: V3_OID.device, extension: device }))));
}

/** The root element with the wrapper filled in; `body` follows the wrapper (acknowledgement, controlActProcess). */
export function interactionMessage(interaction: string, ctx: OutboundContext, ...body: Array<XmlNode | undefined>): XmlNode {
  return el(interaction, { ITSVersion: 'XML_1.0', xmlns: 'urn:hl7-org:v3', 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance' },
    el('id', { root: V3_OID.messageId, extension: ctx.messageId }),
    el('creationTime', { value: fhirToTs(ctx.creationTime) }),
    el('interactionId', { root: V3_OID.interactionId, extension: interaction }),
    el('processingCode', { code: 'P' }),
    el('processingModeCode'),
    el('acceptAckCode', { code: 'AL' }),
    party('receiver', ctx.receiverDevice),
    party('sender', ctx.senderDevice),
    ...body);
}
