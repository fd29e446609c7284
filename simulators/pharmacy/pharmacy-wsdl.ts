/** The three operations of the pharmacy's SOAP service, in WSDL order. */
export const PHARMACY_SOAP_OPERATIONS = ['ReceivePrescription', 'QueryPrescription', 'CancelPrescription'] as const;
export type PharmacySoapOperation = (typeof PHARMACY_SOAP_OPERATIONS)[number];

export const PHARMACY_SOAP_NAMESPACE = 'http://pharmacy.example.cn/rx/';

/**
 * The WSDL a pharmacy chain publishes for its prescription service (SOAP 1.1, document/literal), as the older chain
 * platforms do. Every operation takes the same four strings: appId, timestamp, sign and data — the JSON the web API
 * takes as its body — and answers code, message and data (JSON). `data` travels as text so that the signature covers
 * its exact bytes, as the web API's covers the body: a structured body would need an XML canonicalisation that the
 * two sides' stacks rarely do alike. Generated with the real address, since callers take the endpoint from it.
 */
export function pharmacyWsdl(location: string): string {
  const request = (name: string) => `      <s:element name="${name}">
        <s:complexType><s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="appId" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="timestamp" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="sign" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="data" type="s:string"/>
        </s:sequence></s:complexType>
      </s:element>
      <s:element name="${name}Response">
        <s:complexType><s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="code" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="message" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="data" type="s:string"/>
        </s:sequence></s:complexType>
      </s:element>\n`;
  const messages = (name: string) => `  <wsdl:message name="${name}SoapIn"><wsdl:part name="parameters" element="tns:${name}"/></wsdl:message>
  <wsdl:message name="${name}SoapOut"><wsdl:part name="parameters" element="tns:${name}Response"/></wsdl:message>\n`;
  const portOperation = (name: string) => `    <wsdl:operation name="${name}">
      <wsdl:input message="tns:${name}SoapIn"/>
      <wsdl:output message="tns:${name}SoapOut"/>
    </wsdl:operation>\n`;
  const bindingOperation = (name: string) => `    <wsdl:operation name="${name}">
      <soap:operation soapAction="${PHARMACY_SOAP_NAMESPACE}${name}" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>\n`;
  const all = (part: (name: string) => string) => PHARMACY_SOAP_OPERATIONS.map(part).join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="${PHARMACY_SOAP_NAMESPACE}" targetNamespace="${PHARMACY_SOAP_NAMESPACE}">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="${PHARMACY_SOAP_NAMESPACE}">
${all(request)}    </s:schema>
  </wsdl:types>
${all(messages)}  <wsdl:portType name="PrescriptionServiceSoap">
${all(portOperation)}  </wsdl:portType>
  <wsdl:binding name="PrescriptionServiceSoap" type="tns:PrescriptionServiceSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
${all(bindingOperation)}  </wsdl:binding>
  <wsdl:service name="PrescriptionService">
    <wsdl:port name="PrescriptionServiceSoap" binding="tns:PrescriptionServiceSoap">
      <soap:address location="${location}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;
}
