import { maskText } from '../log-masking';
import type { StoredMessage } from '../message-store/types';
import { looksLikeHl7v2, maskHl7v2 } from './hl7v2-masking';
import { looksLikeJson, maskJson } from './json-masking';
import { looksLikeXml, maskXml } from './xml-masking';

/**
 * What the message browser shows an integration engineer: the content as received, with patient identifiers masked
 * (ID numbers, phones, names, addresses). Known fields of each format are masked by position (HL7 v2), element
 * (XML / HL7 v3) or key (JSON); then the log masker's patterns (ID numbers, mobiles, labelled names, names in HL7
 * segments quoted inside other text) run over everything, so that a value in an unexpected place is caught as well.
 * Pure: the stored message is never changed, and reprocessing always sends the original.
 */

const MAX_NESTING = 4;

export function maskMessageContent(content: string, depth = 0): string {
  if (!content) return content;
  const nested = (text: string) => (depth < MAX_NESTING ? maskMessageContent(text, depth + 1) : maskText(text));
  if (looksLikeHl7v2(content)) return maskText(maskHl7v2(content));
  if (looksLikeJson(content)) {
    const masked = maskJson(content, nested);
    if (masked !== undefined) return masked;
  }
  if (looksLikeXml(content)) return maskText(maskXml(content, nested));
  return maskText(content);
}

/** A stored message as the browser shows it without break-glass: every content, response and error masked. */
export type MaskedMessage = StoredMessage & { contentMasked: true };

const WITHHELD = '[binary content withheld: it may hold patient data that cannot be masked; a break-glass view shows it]';

export function maskStoredMessage(m: StoredMessage): MaskedMessage {
  const content = (s: string | null | undefined) => (s ? maskMessageContent(s) : s);
  return {
    ...m,
    raw: m.encoding === 'base64' ? WITHHELD : maskMessageContent(m.raw),
    stages: m.stages.map((s) => ({ ...s, content: content(s.content), response: content(s.response), error: s.error ? maskText(s.error) : s.error })),
    errors: m.errors.map((e) => ({ ...e, error: maskText(e.error) })),
    contentMasked: true,
  };
}
