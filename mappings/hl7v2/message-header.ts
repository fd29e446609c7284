import { firstSegment, type Hl7Message, type Hl7Segment } from './hl7-message';
import { resolveContext, type Hl7v2Context, type ResolvedContext } from './mapping-context';
import { MappingProblem } from './mapping-problem';
import { TransactionBundle } from './transaction-bundle';

/** What every mapping reads first: the header, the message type, and the transaction it will fill. */
export interface OpenedMessage {
  msh: Hl7Segment;
  /** MSH-9.1, MSH-9.2 (ADT, A01); for ACK-style senders that leave MSH-9.2 empty, EVN-1. */
  code: string;
  event: string;
  sendingApplication: string;
  ctx: ResolvedContext;
  bundle: TransactionBundle;
}

/**
 * Checks the parse, MSH-9 and the event against what the mapping handles, and sets up the transaction. Domestic
 * senders also write the structure name alone (`ADT_A01`) in MSH-9.1, which is read as code and event.
 */
export function openMessage(message: Hl7Message, context: Hl7v2Context, handles: Readonly<Record<string, readonly string[]>>): OpenedMessage {
  const parseProblem = message.problems[0];
  if (parseProblem) throw new MappingProblem('structure', parseProblem.expression, parseProblem.diagnostics);
  const msh = firstSegment(message, 'MSH') as Hl7Segment;
  let code = msh.get(9, 1).trim();
  let event = msh.get(9, 2).trim();
  if (!event && /^[A-Z]{3}_[A-Z0-9]{3}$/.test(code)) [code, event] = code.split('_');
  if (!code) throw new MappingProblem('required', msh.where(9), `${msh.where(9)} (message type) is missing: the message cannot be routed to a mapping`);
  if (!event) event = firstSegment(message, 'EVN')?.get(1) ?? '';
  const events = handles[code];
  if (!events) {
    throw new MappingProblem('not-supported', msh.where(9), `${msh.where(9)} message type ${code} is not mapped here (mapped: ${Object.keys(handles).join(', ')})`);
  }
  if (!events.includes(event)) {
    throw new MappingProblem('not-supported', msh.where(9), `${msh.where(9)} event ${code}^${event || '(none)'} is not mapped (mapped: ${events.map((e) => `${code}^${e}`).join(', ')})`);
  }
  const sendingApplication = msh.get(3, 1) || msh.get(4, 1);
  const controlId = msh.get(10);
  if (!controlId) throw new MappingProblem('required', msh.where(10), `${msh.where(10)} (message control id) is missing: a resent message could not be recognised`);
  return { msh, code, event, sendingApplication, ctx: resolveContext(context, sendingApplication), bundle: new TransactionBundle(`${sendingApplication}|${controlId}`) };
}

/** The segments of one name, in message order. */
export function segmentsNamed(message: Hl7Message, name: string): Hl7Segment[] {
  return message.segments.filter((s) => s.name === name);
}

export function requiredSegment(message: Hl7Message, name: string, why: string): Hl7Segment {
  const segment = firstSegment(message, name);
  if (!segment) throw new MappingProblem('required', name, `The message has no ${name} segment: ${why}`);
  return segment;
}
