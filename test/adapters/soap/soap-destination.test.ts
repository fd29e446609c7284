import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { httpSource } from '../../../adapters/http/http-source';
import { soapDestination } from '../../../adapters/soap/soap-destination';
import { channel } from '../../../engine/channel/channel';
import { HisPeer, hisPeer } from '../../../simulators/his/his-peer';
import { eventually, STACKS, startTestServer, TestServer } from '../../support/engine-server';

const QUERY = fs.readFileSync(path.join(__dirname, '../../fixtures/hl7v3/prpa-in201305uv02-patient-query.xml'), 'utf8').replace('P000123456', 'P000100001');
const retry = { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100, multiplier: 2, jitter: 0, concurrency: 1 };

interface Stored {
  status: string;
  stages: { name: string; status: string; response?: string; attempts: number }[];
  errors: { attempt: number; error: string }[];
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('SOAP destination against the HIS simulator', () => {
  let his: HisPeer;
  let server: TestServer;

  beforeAll(async () => {
    his = hisPeer();
    await his.start();
    const refusedAt = `http://127.0.0.1:${await closedPort()}/HISService.asmx`;
    server = await startTestServer(STACKS[0], () => [
      channel({
        id: 'his-query', source: httpSource(),
        // Generous, so a call answered late on a loaded CI machine does not add a failed attempt to what a test counts.
        destinations: [{ name: 'his', queue: retry, connector: soapDestination({ wsdl: `${his.url}?wsdl`, operation: 'HIPMessageServer', hipAction: 'PatientInfoQuery', timeoutMs: 5000 }) }],
      }),
      channel({
        id: 'his-query-impatient', source: httpSource(),
        destinations: [{ name: 'his', queue: retry, connector: soapDestination({ wsdl: `${his.url}?wsdl`, operation: 'HIPMessageServer', hipAction: 'PatientInfoQuery', timeoutMs: 500 }) }],
      }),
      channel({
        id: 'his-billing', source: httpSource(),
        destinations: [{
          name: 'his', queue: retry,
          connector: soapDestination({ wsdl: `${his.url}?wsdl`, operation: 'HIPMessageServer', hipAction: { OutpatientChargeRequest: 'OutpatientCharge', PRPA_IN201305UV02: 'PatientInfoQuery' } }),
        }],
      }),
      channel({
        id: 'his-json', source: httpSource(),
        destinations: [{ name: 'his', queue: retry, connector: soapDestination({ wsdl: `${his.url}?wsdl`, operation: 'HIPMessageServer', soapVersion: '1.1' }) }],
      }),
      channel({
        id: 'his-down', source: httpSource(),
        destinations: [{
          name: 'his', queue: { ...retry, maxAttempts: 2 },
          // A WSDL kept on disk, as for a HIS whose ?wsdl is not reachable from the integration server.
          connector: soapDestination({ wsdl: path.resolve(__dirname, '../../../adapters/soap/wsdl/hip-message-server.wsdl'), endpoint: refusedAt, operation: 'HIPMessageServer', hipAction: 'PatientInfoQuery' }),
        }],
      }),
    ]);
  });
  afterAll(async () => {
    await server?.cleanup();
    await his?.stop();
  });

  const send = async (channelId: string, body: string, contentType = 'application/hl7-v3+xml; charset=utf-8') =>
    (await request(server.base).post(`/channels/${channelId}`).set('Content-Type', contentType).send(body).expect(202)).body.messageId as string;
  const settled = (id: string, status = 'sent') => eventually(async () => {
    const m = (await request(server.base).get(`/api/messages/${id}`)).body as Stored;
    return m.status === status && m;
  });

  it('delivers a 个人信息查询 through the WSDL the HIS publishes and records the HIS answer', async () => {
    const m = await settled(await send('his-query', QUERY));
    const stage = m.stages.find((s) => s.name === 'his')!;
    expect(stage.response).toContain('<PRPA_IN201306UV02');
    expect(stage.response).toContain('<queryResponseCode code="OK"/>');
    expect(stage.response).toContain('<part value="李梅"/>');
    expect(m.errors).toEqual([]);
  });

  it('calls the operation with the message JSON as its input when no 互联互通 action is set', async () => {
    const m = await settled(await send('his-json', JSON.stringify({ action: 'PatientInfoQuery', message: QUERY }), 'application/json'));
    const response = JSON.parse(m.stages.find((s) => s.name === 'his')!.response!);
    expect(response.HIPMessageServerResult).toContain('<PRPA_IN201306UV02');
  });

  it('chooses the 互联互通 action by the root element of the message when given a map', async () => {
    const charge = '<?xml version="1.0" encoding="UTF-8"?>\n<!-- a 收费 -->\n<OutpatientChargeRequest version="1"><patientId>P000100001</patientId><outTradeNo>LS-ROOT-1</outTradeNo>' +
      '<amount>20.00</amount><items><item><orderId>O202611250001</orderId><amount>20.00</amount></item></items></OutpatientChargeRequest>';
    await settled(await send('his-billing', charge, 'application/xml'));
    await settled(await send('his-billing', QUERY));
    const received = his.received.filter((r) => ['OutpatientCharge', 'PatientInfoQuery'].includes(r.action)).map((r) => [r.action, r.outcome]);
    expect(received).toEqual(expect.arrayContaining([['OutpatientCharge', 'AA'], ['PatientInfoQuery', 'AA']]));
  });

  it('fails a message whose root element has no action in the map, naming it', async () => {
    const m = await settled(await send('his-billing', '<SomethingElse/>', 'application/xml'), 'error');
    expect(m.errors[0].error).toBe('no 互联互通 action is configured for a SomethingElse message (known: OutpatientChargeRequest, PRPA_IN201305UV02)');
  });

  it('records a timeout as a failed attempt and delivers on the retry', async () => {
    his.fail('timeout', 1);
    const m = await settled(await send('his-query-impatient', QUERY));
    expect(m.errors.map((e) => e.error)).toEqual([`no answer from HIPMessageServer at ${his.url} within 500 ms`]);
  });

  it('records the fault string of an HTTP 500 SOAP fault as a failed attempt and delivers on the retry', async () => {
    his.fail('500', 1);
    const m = await settled(await send('his-query', QUERY));
    expect(m.errors.map((e) => e.error)).toEqual(['SOAP fault soap:Server: HIS 数据库连接失败: ORA-12541 TNS:no listener']);
  });

  it('records a malformed reply as a failed attempt and delivers on the retry', async () => {
    his.fail('malformed', 1);
    const m = await settled(await send('his-query', QUERY));
    expect(m.errors).toHaveLength(1);
    expect(m.errors[0].error).toMatch(/^malformed SOAP reply from HIPMessageServer at .* \(HTTP 200\): Invalid XML/);
  });

  it('records an AE acknowledgement as a failed attempt, with the reason the HIS gave', async () => {
    const unsupported = QUERY.replace(/PRPA_IN201305UV02/g, 'PRPA_IN201399UV02');
    const m = await settled(await send('his-query', unsupported), 'error');
    expect(m.errors.map((e) => e.error)).toEqual([1, 2, 3].map(() => `HIPMessageServer at ${his.url} answered AE: 不支持的交互 PRPA_IN201399UV02`));
  });

  it('records connection refused on every attempt and dead-letters the message', async () => {
    const m = await settled(await send('his-down', QUERY), 'error');
    expect(m.errors).toHaveLength(2);
    for (const e of m.errors) expect(e.error).toMatch(/^connection refused by HIPMessageServer at http:\/\/127\.0\.0\.1:\d+\/HISService\.asmx$/);
  });
});
