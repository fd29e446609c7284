/**
 * Builds the outbound XML. Hand-written rather than fast-xml-parser's XMLBuilder: v3 interleaves repeated children
 * of different names in a fixed order, which XMLBuilder only keeps in its verbose preserveOrder form, and a golden
 * test needs byte-stable indentation.
 */
export interface XmlNode {
  name: string;
  attributes: ReadonlyArray<readonly [string, string | undefined]>;
  children: XmlNode[];
  /** Text content, for the few non-v3 bodies that carry values as text (outpatient-charge.ts); v3 uses attributes. */
  text?: string;
}

type Attrs = Record<string, string | undefined>;

/** An element; attributes whose value is undefined are left out, children that are undefined or false too. */
export function el(name: string, attributes: Attrs = {}, ...children: Array<XmlNode | XmlNode[] | undefined | false>): XmlNode {
  return {
    name,
    attributes: Object.entries(attributes),
    children: children.flat().filter((c): c is XmlNode => Boolean(c)),
  };
}

/** An element holding only text: `<amount>20.50</amount>`. */
export function textEl(name: string, value: string, attributes: Attrs = {}): XmlNode {
  return { name, attributes: Object.entries(attributes), children: [], text: value };
}

function escape(value: string): string {
  return value.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function write(node: XmlNode, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const attrs = node.attributes.filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${escape(v!)}"`).join('');
  if (node.text !== undefined) {
    out.push(`${pad}<${node.name}${attrs}>${escape(node.text)}</${node.name}>`);
    return;
  }
  if (node.children.length === 0) {
    out.push(`${pad}<${node.name}${attrs}/>`);
    return;
  }
  out.push(`${pad}<${node.name}${attrs}>`);
  for (const child of node.children) write(child, depth + 1, out);
  out.push(`${pad}</${node.name}>`);
}

export function serializeXml(root: XmlNode): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  write(root, 0, out);
  return `${out.join('\n')}\n`;
}
