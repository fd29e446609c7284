/**
 * Refuses XML that carries a document type declaration, before any parser sees it.
 *
 * A DTD is how billion-laughs (nested entity expansion) and XXE (SYSTEM entities reading files or URLs) get in.
 * SOAP forbids it anyway (SOAP 1.1 §3: "A SOAP message MUST NOT contain a Document Type Declaration"; SOAP 1.2
 * part 1 §5), and no 互联互通 HL7 v3 interaction uses one, so refusing outright costs nothing legitimate and does not
 * depend on how each parser behind us treats entities: `sax` (inside the soap package) leaves DTD entities
 * unexpanded, but fast-xml-parser expands internal ones, and the next parser someone adds may resolve SYSTEM ones.
 * The scan is a linear search over text already bounded by the body limit, so a hostile document costs one pass.
 */
export class XmlRefusedError extends Error {
  override readonly name = 'XmlRefusedError';
}

const DTD = /<!\s*(DOCTYPE|ENTITY)\b/i;

export function refuseDtd(xml: string, what = 'XML'): void {
  const m = DTD.exec(xml);
  if (m) throw new XmlRefusedError(`${what} refused: it contains <!${m[1].toUpperCase()} (document type declarations and entities are not accepted)`);
}
