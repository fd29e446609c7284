import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import * as soap from 'soap';
import request from 'supertest';
import { HisPeer, hisPeer } from '../../../simulators/his/his-peer';
import { STACKS, startTestServer, TestServer } from '../../support/engine-server';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '../../fixtures/hl7v3', name), 'utf8');
const QUERY = fixture('prpa-in201305uv02-patient-query.xml');
const REGISTER = fixture('prpa-in201311uv02-patient-register.xml');
const ORDERS = fixture('qumt-in020030uv01-order-query.xml');

type Hip = (action: string, message: string) => Promise<string>;

describe('HIS simulator', () => {
  let his: HisPeer;
  let control: express.Express;
  let call: Hip;

  beforeAll(async () => {
    his = hisPeer();
    await his.start();
    control = express().use('/_sim/his', his.control());
    // A caller built from the WSDL the HIS publishes, as a hospital's integration team would build one.
    const client = (await soap.createClientAsync(`${his.url}?wsdl`)) as unknown as { HIPMessageServerAsync(a: object): Promise<[{ HIPMessageServerResult: string }]> };
    call = async (action, message) => (await client.HIPMessageServerAsync({ action, message }))[0].HIPMessageServerResult;
  });
  afterAll(async () => his?.stop());

  it('answers a 个人信息查询 for a patient it knows with PRPA_IN201306UV02 carrying the patient', async () => {
    const answer = await call('PatientInfoQuery', QUERY.replace('P000123456', 'P000100002'));
    expect(answer).toContain('<PRPA_IN201306UV02');
    expect(answer).toContain('<queryResponseCode code="OK"/>');
    expect(answer).toContain('<part value="张建国"/>');
    expect(answer).toContain('extension="9a0e8c51-2f4b-4d7e-8a13-5c6b7d8e9f01"');
  });

  it('answers NF to a 个人信息查询 for a patient it does not know', async () => {
    const answer = await call('PatientInfoQuery', QUERY.replace('P000123456', 'P999999999'));
    expect(answer).toContain('<queryResponseCode code="NF"/>');
    expect(answer).not.toContain('<patientPerson');
  });

  it('registers a patient sent as 个人信息注册 and lists it on its control route', async () => {
    const answer = await call('PatientInfoRegister', REGISTER);
    expect(answer).toMatch(/<MCCI_IN000002UV01[\s\S]*<acknowledgement typeCode="AA">/);
    const patients = (await request(control).get('/_sim/his/patients').expect(200)).body;
    expect(patients).toContainEqual(expect.objectContaining({ id: 'P000123456', name: '王小明', idCard: '110105199003071234', gender: '1', birthDate: '19900307' }));
  });

  it('answers a 医嘱查询 with the patient\'s orders and their 收费 status, which the control route can change', async () => {
    const query = ORDERS.replace('P000123456', 'P000100001');
    const before = await call('OrderInfoQuery', query);
    expect(before).toContain('<POOR_IN200901UV');
    expect(before.match(/<observationRequest /g)).toHaveLength(2);
    expect(before).toMatch(/displayName="血常规"[\s\S]*?displayName="未收费"/);
    const blood = (await request(control).get('/_sim/his/orders').query({ patientId: 'P000100001' })).body.find((o: { name: string }) => o.name === '血常规');
    await request(control).post(`/_sim/his/orders/${blood.id}/pay`).expect(200);
    expect(await call('OrderInfoQuery', query)).toMatch(/displayName="血常规"[\s\S]*?displayName="已收费"/);
  });

  it('answers AE with the reason to a message that is not well-formed', async () => {
    const answer = await call('PatientInfoRegister', fixture('malformed-unclosed-tag.xml'));
    expect(answer).toContain('<acknowledgement typeCode="AE">');
    expect(answer).toContain('XML 格式错误');
  });

  it('fails the next calls the way its control route says, then answers normally', async () => {
    await request(control).post('/_sim/his/fail').query({ times: 2, mode: '500' }).expect(200);
    for (let i = 0; i < 2; i++) await expect(call('PatientInfoQuery', QUERY)).rejects.toThrow(/ORA-12541/);
    expect(await call('PatientInfoQuery', QUERY)).toContain('<PRPA_IN201306UV02');
  });
});

describe('HIS simulator pushing to Lingshu', () => {
  let server: TestServer;
  let his: HisPeer;

  beforeAll(async () => {
    server = await startTestServer(STACKS[0], () => [], {
      'hip.yaml': 'id: hip\nsource: { type: hl7v3-hip }\ndestinations:\n  - { name: rows, type: table, table: hip_in }\n',
    });
    his = hisPeer({ seed: false, lingshu: { wsdl: `${server.base}/channels/hip?wsdl` } });
    await his.start();
  });
  afterAll(async () => {
    await his?.stop();
    await server?.cleanup();
  });

  it('sends a patient registered through its control route to Lingshu\'s 互联互通 endpoint, which stores it', async () => {
    const control = express().use('/_sim/his', his.control());
    const res = await request(control).post('/_sim/his/patients').send({ name: '陈静', idCard: '330106199201152346', gender: '2', birthDate: '19920115' }).expect(201);
    expect(res.body.lingshuAnswer).toContain('<acknowledgement typeCode="AA">');
    const messageId = /<targetMessage><id root="[^"]+" extension="([^"]+)"/.exec(res.body.lingshuAnswer)![1];
    const listed = (await request(server.base).get('/api/messages').query({ channel: 'hip', correlationId: messageId })).body.messages;
    expect(listed).toHaveLength(1);
    expect(listed[0].contentType).toContain('action="PatientInfoRegister"');
    const stored = (await request(server.base).get(`/api/messages/${listed[0].id}`)).body;
    expect(stored.raw).toContain(`extension="${res.body.patient.id}"`);
    expect(stored.raw).toContain('<part value="陈静"/>');
  });
});
