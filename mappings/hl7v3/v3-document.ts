import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { singleProblem } from './mapping-problems';

/**
 * A read-only view of an HL7 v3 message: elements with their attributes, children in document order, and the
 * XPath-like location of each, so every problem found later can say where it is.
 */
export class V3Element {
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly attributes: Readonly<Record<string, string>>,
    readonly children: readonly V3Element[],
  ) {}

  /** The first child element called `name` (namespace prefixes removed). */
  child(name: string): V3Element | undefined {
    return this.children.find((c) => c.name === name);
  }

  all(name: string): V3Element[] {
    return this.children.filter((c) => c.name === name);
  }

  /** Follows a chain of first children: `at('controlActProcess', 'subject')`. */
  at(...names: string[]): V3Element | undefined {
    let current: V3Element | undefined = this;
    for (const name of names) current = current?.child(name);
    return current;
  }

  /** An attribute value, trimmed (HIS exports pad codes: `code="94 "`), or undefined when absent or blank. */
  attr(name: string): string | undefined {
    const value = this.attributes[name];
    if (value === undefined) return undefined;
    const trimmed = decodeXmlReferences(value).trim();
    return trimmed === '' ? undefined : trimmed;
  }

  attrPath(name: string): string {
    return `${this.path}/@${name}`;
  }
}

export interface V3Message {
  root: V3Element;
}

// Entities stay off in the parser (processEntities: false) so no declaration can ever expand; the five predefined
// references and character references are decoded here, which is all XML 1.0 defines without a DTD.
const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXmlReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return PREDEFINED[ref];
  });
}

const parser = new XMLParser({
  preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true,
  parseTagValue: false, parseAttributeValue: false, processEntities: false, htmlEntities: false,
  trimValues: true, ignoreDeclaration: true, ignorePiTags: true,
});

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

function elementName(node: OrderedNode): string | undefined {
  return Object.keys(node).find((k) => k !== ':@' && !k.startsWith('#') && !k.startsWith('?'));
}

function build(node: OrderedNode, name: string, path: string): V3Element {
  const raw = (node[name] as OrderedNode[] | undefined) ?? [];
  const named = raw.map((c) => ({ c, n: elementName(c) })).filter((x): x is { c: OrderedNode; n: string } => x.n !== undefined);
  const counts = new Map<string, number>();
  for (const { n } of named) counts.set(n, (counts.get(n) ?? 0) + 1);
  const seen = new Map<string, number>();
  const children = named.map(({ c, n }) => {
    const index = (seen.get(n) ?? 0) + 1;
    seen.set(n, index);
    // XPath positions (1-based) only where a name repeats, so single elements read naturally.
    const step = counts.get(n)! > 1 ? `${n}[${index}]` : n;
    return build(c, n, `${path}/${step}`);
  });
  return new V3Element(name, path, node[':@'] ?? {}, children);
}

const V3_NAMESPACE = 'urn:hl7-org:v3';
const DTD = /<!\s*(DOCTYPE|ENTITY)\b/i;

/**
 * Parses an HL7 v3 message, or says why it cannot: a DTD or entity declaration (refused outright: billion-laughs and
 * XXE come in that way, and no 互联互通 interaction uses one), XML that is not well-formed, or a root outside the v3
 * namespace. Never throws.
 */
export function parseV3(xml: string): V3Message | OperationOutcome {
  if (typeof xml !== 'string' || xml.trim() === '') return singleProblem('required', 'the message is empty', '/');
  const dtd = DTD.exec(xml);
  if (dtd) {
    return singleProblem('security', `the message contains <!${dtd[1].toUpperCase()}: document type declarations and entities are not accepted`, '/');
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    return singleProblem('structure', `the message is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`, '/');
  }
  const nodes = parser.parse(xml) as OrderedNode[];
  const top = nodes.find((n) => elementName(n) !== undefined);
  const name = top ? elementName(top) : undefined;
  if (!top || !name) return singleProblem('structure', 'the message has no root element', '/');
  const rootTag = new RegExp(`<(?:[\\w.-]+:)?${name}\\b[^>]*>`).exec(xml)?.[0] ?? '';
  if (!rootTag.includes(V3_NAMESPACE)) return singleProblem('structure', `${name} is not in the HL7 v3 namespace ${V3_NAMESPACE}`, `/${name}`);
  return { root: build(top, name, `/${name}`) };
}
