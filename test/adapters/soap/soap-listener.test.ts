import fs from 'node:fs';
import path from 'node:path';
import * as soap from 'soap';
import request from 'supertest';
import { STACKS, startTestServer, TestServer } from '../../support/engine-server';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '../../fixtures', name), 'utf8');
const REGISTER = fixture('hl7v3/prpa-in201311uv02-patient-register.xml');
const REGISTER_ID = '4f6c2a1e-7b3d-4c2a-9e51-0d8a6b1f2c33';

type HipClient = soap.Client & { HIPMessageServerAsync(args: { action: string; message: string }): Promise<[{ HIPMessageServerResult: string }, string]> };

const typeCode = (ack: string) => /<acknowledgement typeCode="(\w+)"/.exec(ack)?.[1];
const detail = (ack: string) => /<text value="([^"]*)"/.exec(ack)?.[1];

const yaml = {
  'hip.yaml': `
id: hip
description: 互联互通 generic endpoint
source: { type: hl7v3-hip, device: LINGSHU-TEST }
destinations:
  - { name: rows, type: table, table: hip_in }
`,
  'hip-strict.yaml': `
id: hip-strict
source: { type: hl7v3-hip, actions: [PatientInfoRegister], maxBody: 8kb }
destinations:
  - { name: rows, type: table, table: hip_strict_in }
`,
  'charge.yaml': `
id: charge
source:
  type: soap
  wsdl: ${path.join(__dirname, '../../fixtures/soap/charge-notify.wsdl')}
  reply: { ChargeNotify: { code: '0', receipt: '{messageId}' } }
destinations:
  - { name: rows, type: table, table: charge_in }
`,
};

// SQLite + in-process bus: the listener's behaviour does not depend on the stack, and the suites share two cores.
describe('SOAP listeners on the engine', () => {
  let server: TestServer;
  let hipWsdl: string;
  const stored = async (correlationId: string) => (await request(server.base).get('/api/messages').query({ channel: 'hip', correlationId })).body.messages as { id: string; contentType: string }[];

  beforeAll(async () => {
    server = await startTestServer(STACKS[0], () => [], yaml);
    hipWsdl = `${server.base}/channels/hip?wsdl`;
  });
  afterAll(async () => server?.cleanup());

  it('answers a 个人信息注册 made with the soap client from the published WSDL with AA, once the message is stored with its action', async () => {
    const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
    const [result] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: REGISTER });
    const ack = result.HIPMessageServerResult;
    expect(ack).toContain('<MCCI_IN000002UV01');
    expect(typeCode(ack)).toBe('AA');
    expect(ack).toContain(`<targetMessage><id root="2.16.156.10011.2.5.1.1" extension="${REGISTER_ID}"/>`);
    expect(ack).toContain('extension="LINGSHU-TEST"');
    // No waiting: AA is only sent after the store committed.
    const [summary] = await stored(REGISTER_ID);
    expect(summary.contentType).toBe('application/hl7-v3+xml; charset=utf-8; action="PatientInfoRegister"; interaction="PRPA_IN201311UV02"');
    const message = (await request(server.base).get(`/api/messages/${summary.id}`)).body;
    expect(message.raw).toBe(REGISTER);
  });

  it('answers a SOAP 1.2 call with a SOAP 1.2 envelope', async () => {
    const client = (await soap.createClientAsync(hipWsdl, { forceSoap12Headers: true })) as HipClient;
    const message = REGISTER.replace(REGISTER_ID, 'soap12-register-0001');
    const [result] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message });
    expect(typeCode(result.HIPMessageServerResult)).toBe('AA');
    expect(client.lastResponseHeaders?.['content-type']).toMatch(/^application\/soap\+xml/);
    expect(client.lastResponse).toContain('http://www.w3.org/2003/05/soap-envelope');
    expect(await stored('soap12-register-0001')).toHaveLength(1);
  });

  it('answers AE with the reason to a malformed HL7 v3 message, stores nothing and keeps serving', async () => {
    const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
    const [result] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: fixture('hl7v3/malformed-unclosed-tag.xml') });
    expect(typeCode(result.HIPMessageServerResult)).toBe('AE');
    expect(detail(result.HIPMessageServerResult)).toMatch(/not well-formed XML/);
    expect(await stored('0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9')).toHaveLength(0);
    const [again] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: REGISTER.replace(REGISTER_ID, 'after-malformed-0001') });
    expect(typeCode(again.HIPMessageServerResult)).toBe('AA');
  });

  it('stores a message whose caller left the action empty, without an action parameter', async () => {
    const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
    const [result] = await client.HIPMessageServerAsync({ action: '', message: REGISTER.replace(REGISTER_ID, 'no-action-0001') });
    expect(typeCode(result.HIPMessageServerResult)).toBe('AA');
    expect((await stored('no-action-0001'))[0].contentType).toBe('application/hl7-v3+xml; charset=utf-8; interaction="PRPA_IN201311UV02"');
  });

  it('answers AE to an action that a channel naming its actions does not serve, and stores nothing', async () => {
    const client = (await soap.createClientAsync(`${server.base}/channels/hip-strict?wsdl`)) as HipClient;
    const [result] = await client.HIPMessageServerAsync({ action: 'OrderInfoQuery', message: REGISTER.replace(REGISTER_ID, 'strict-0001') });
    expect(typeCode(result.HIPMessageServerResult)).toBe('AE');
    expect(detail(result.HIPMessageServerResult)).toBe('action &quot;OrderInfoQuery&quot; is not served by this endpoint');
    expect((await request(server.base).get('/api/messages').query({ channel: 'hip-strict' })).body.messages).toHaveLength(0);
  });

  it('refuses an envelope over the size limit with a fault before parsing it', async () => {
    const client = (await soap.createClientAsync(`${server.base}/channels/hip-strict?wsdl`)) as HipClient;
    const large = REGISTER.replace('</PRPA_IN201311UV02>', `<!-- ${'备注'.repeat(4000)} --></PRPA_IN201311UV02>`);
    await expect(client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: large })).rejects.toMatchObject({
      message: expect.stringContaining('envelope larger than 8kb'), response: expect.objectContaining({ status: 413 }),
    });
  });

  it('stores a call of a generic SOAP listener as the received envelope and answers with the configured reply', async () => {
    const client = await soap.createClientAsync(`${server.base}/channels/charge?wsdl`);
    const [result] = await (client as unknown as { ChargeNotifyAsync(a: object): Promise<[{ code: string; receipt: string }]> })
      .ChargeNotifyAsync({ orderNo: 'O202611250001', patientId: 'P000100001', amount: '20.00' });
    expect(result.code).toBe('0');
    const message = (await request(server.base).get(`/api/messages/${result.receipt}`)).body;
    expect(message.contentType).toBe('text/xml; charset=utf-8; operation="ChargeNotify"');
    expect(message.raw).toContain('<orderNo>O202611250001</orderNo>');
    expect(message.raw).toContain('http://schemas.xmlsoap.org/soap/envelope/');
  });

  it('answers a Client fault naming the problem to an envelope that is not well-formed, and keeps serving', async () => {
    const res = await request(server.base).post('/channels/hip').set('Content-Type', 'application/soap+xml; charset=utf-8')
      .send('<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><HIPMessageServer xmlns="urn:hl7-org:v3">');
    expect(res.status).toBe(400);
    expect(res.text).toContain('<soap:Value>soap:Sender</soap:Value>');
    expect(res.text).toContain('envelope is not well-formed XML');
    const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
    const [again] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: REGISTER.replace(REGISTER_ID, 'after-broken-envelope-0001') });
    expect(typeCode(again.HIPMessageServerResult)).toBe('AA');
  });

  it('answers a Client fault to a call of an operation the WSDL does not have', async () => {
    const res = await request(server.base).post('/channels/hip').set('Content-Type', 'text/xml; charset=utf-8')
      .send('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><PatientQuery xmlns="urn:hl7-org:v3"><id>1</id></PatientQuery></soap:Body></soap:Envelope>');
    expect(res.status).toBe(400);
    expect(res.text).toContain('<faultstring>no operation of this service takes &lt;PatientQuery&gt; (known: HIPMessageServer)</faultstring>');
  });

  it('answers 503 with a Server fault while the channel is paused', async () => {
    await request(server.base).post('/api/channels/hip/pause').expect(200);
    try {
      const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
      const large = REGISTER.replace('</PRPA_IN201311UV02>', `<!-- ${'备注'.repeat(4000)} --></PRPA_IN201311UV02>`);
    await expect(client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: large })).rejects.toMatchObject({
        message: expect.stringContaining('channel paused'), response: expect.objectContaining({ status: 503 }),
      });
    } finally {
      await request(server.base).post('/api/channels/hip/resume').expect(200);
    }
  });

  describe('hostile XML', () => {
    const lols = ['<!ENTITY lol "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`)].join('\n');
    const envelope = (doctype: string, message: string) => `<?xml version="1.0" encoding="utf-8"?>
${doctype}
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<HIPMessageServer xmlns="urn:hl7-org:v3"><action>PatientInfoRegister</action><message>${message}</message></HIPMessageServer>
</soap:Body></soap:Envelope>`;
    const post = (body: string) => request(server.base).post('/channels/hip').set('Content-Type', 'text/xml; charset=utf-8').set('SOAPAction', '"urn:hl7-org:v3/HIPMessageServer"').send(body);

    it('refuses a billion-laughs envelope with a fault, without expanding it', async () => {
      const before = process.memoryUsage().heapUsed;
      const res = await post(envelope(`<!DOCTYPE lolz [\n${lols}\n]>`, '&lol9;'));
      expect(res.status).toBe(400);
      expect(res.text).toContain('<faultcode>soap:Client</faultcode>');
      expect(res.text).toContain('contains &lt;!DOCTYPE');
      // Expanded, &lol9; is 10^9 "lol"s: gigabytes. Refused, the heap barely moves.
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    });

    it('refuses an external entity in the envelope and never reads the file', async () => {
      const res = await post(envelope('<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', '&xxe;'));
      expect(res.status).toBe(400);
      expect(res.text).toContain('contains &lt;!DOCTYPE');
      expect(res.text).not.toContain('root:');
    });

    it('answers AE to a billion-laughs HL7 v3 message carried inside a well-formed envelope, without expanding it', async () => {
      const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
      const before = process.memoryUsage().heapUsed;
      const bomb = `<?xml version="1.0"?>\n<!DOCTYPE PRPA_IN201311UV02 [\n${lols}\n]>\n${REGISTER.replace('<?xml version="1.0" encoding="UTF-8"?>', '').replace('value="王小明"', 'value="&lol9;"').replace(REGISTER_ID, 'bomb-0001')}`;
      const [result] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: bomb });
      expect(typeCode(result.HIPMessageServerResult)).toBe('AE');
      expect(detail(result.HIPMessageServerResult)).toContain('contains &lt;!DOCTYPE');
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
      expect(await stored('bomb-0001')).toHaveLength(0);
    });

    it('answers AE to an HL7 v3 message declaring an external entity and stores nothing', async () => {
      const client = (await soap.createClientAsync(hipWsdl)) as HipClient;
      const xxe = `<!DOCTYPE PRPA_IN201311UV02 [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n${REGISTER.replace('<?xml version="1.0" encoding="UTF-8"?>', '').replace('value="王小明"', 'value="&xxe;"').replace(REGISTER_ID, 'xxe-0001')}`;
      const [result] = await client.HIPMessageServerAsync({ action: 'PatientInfoRegister', message: xxe });
      expect(typeCode(result.HIPMessageServerResult)).toBe('AE');
      expect(result.HIPMessageServerResult).not.toContain('root:');
      expect(await stored('xxe-0001')).toHaveLength(0);
    });
  });
});
