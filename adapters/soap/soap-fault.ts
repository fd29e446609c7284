export type SoapVersion = '1.1' | '1.2';

export const ENVELOPE_NS: Record<SoapVersion, string> = {
  '1.1': 'http://schemas.xmlsoap.org/soap/envelope/',
  '1.2': 'http://www.w3.org/2003/05/soap-envelope',
};

/** Content type of a SOAP message: SOAP 1.2 has its own media type (SOAP 1.2 part 2 §7.1.4), 1.1 uses text/xml. */
export function soapContentType(version: SoapVersion): string {
  return version === '1.2' ? 'application/soap+xml; charset=utf-8' : 'text/xml; charset=utf-8';
}

/** The peer answered with a SOAP fault; the message carries the fault string so that the recorded error explains itself. */
export class SoapFaultError extends Error {
  override readonly name = 'SoapFaultError';
  constructor(readonly faultCode: string, readonly faultString: string, readonly httpStatus?: number) {
    super(`SOAP fault ${faultCode}: ${faultString}`);
  }
}

/** Raised inside a listener to answer with a fault: Client/Sender when the caller must change the request, Server otherwise. */
export class SoapRequestFault extends Error {
  constructor(message: string, readonly blame: 'client' | 'server' = 'client') {
    super(message);
  }
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A complete fault envelope, for refusals made before the soap package parses anything. */
export function faultEnvelope(version: SoapVersion, blame: 'client' | 'server', reason: string): string {
  const text = escapeXml(reason);
  const body = version === '1.2'
    ? `<soap:Fault><soap:Code><soap:Value>soap:${blame === 'client' ? 'Sender' : 'Receiver'}</soap:Value></soap:Code>` +
      `<soap:Reason><soap:Text xml:lang="zh-CN">${text}</soap:Text></soap:Reason></soap:Fault>`
    : `<soap:Fault><faultcode>soap:${blame === 'client' ? 'Client' : 'Server'}</faultcode><faultstring>${text}</faultstring></soap:Fault>`;
  return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${ENVELOPE_NS[version]}"><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

/** The shape the soap package renders as a fault when a service method rejects with `{ Fault }`. */
export function packageFault(version: SoapVersion, fault: SoapRequestFault): { Fault: Record<string, unknown> } {
  const statusCode = 500;
  return version === '1.2'
    ? { Fault: { Code: { Value: `soap:${fault.blame === 'client' ? 'Sender' : 'Receiver'}` }, Reason: { Text: fault.message }, statusCode } }
    : { Fault: { faultcode: `soap:${fault.blame === 'client' ? 'Client' : 'Server'}`, faultstring: fault.message, statusCode } };
}
