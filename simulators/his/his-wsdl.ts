/**
 * The simulated HIS's own WSDL, in the .asmx form many HIS vendors publish: one HIPMessageServer(action, message)
 * operation on a SOAP 1.1 port. Generated with the real address, since callers take the endpoint from it.
 */
export function hisWsdl(location: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:s="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="http://tempuri.org/" targetNamespace="http://tempuri.org/">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="http://tempuri.org/">
      <s:element name="HIPMessageServer">
        <s:complexType><s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="action" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="message" type="s:string"/>
        </s:sequence></s:complexType>
      </s:element>
      <s:element name="HIPMessageServerResponse">
        <s:complexType><s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="HIPMessageServerResult" type="s:string"/>
        </s:sequence></s:complexType>
      </s:element>
    </s:schema>
  </wsdl:types>
  <wsdl:message name="HIPMessageServerSoapIn"><wsdl:part name="parameters" element="tns:HIPMessageServer"/></wsdl:message>
  <wsdl:message name="HIPMessageServerSoapOut"><wsdl:part name="parameters" element="tns:HIPMessageServerResponse"/></wsdl:message>
  <wsdl:portType name="HISServiceSoap">
    <wsdl:operation name="HIPMessageServer">
      <wsdl:input message="tns:HIPMessageServerSoapIn"/>
      <wsdl:output message="tns:HIPMessageServerSoapOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="HISServiceSoap" type="tns:HISServiceSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="HIPMessageServer">
      <soap:operation soapAction="http://tempuri.org/HIPMessageServer" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="HISService">
    <wsdl:port name="HISServiceSoap" binding="tns:HISServiceSoap">
      <soap:address location="${location}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;
}
