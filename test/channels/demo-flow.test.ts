import type { Bundle, DiagnosticReport, Patient, ServiceRequest } from '@medplum/fhirtypes';
import { demoHospital } from '../../channels/demo-hospital';
import { hisPeer, HisPeer } from '../../simulators/his/his-peer';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { lisPeer } from '../../simulators/lis/lis-peer';
import { MllpClient } from '../../simulators/mllp/mllp-client';
import { pacsPeer } from '../../simulators/pacs/pacs-peer';
import { reproLisPeer } from '../../simulators/repro-lis/repro-lis-peer';
import { freePort } from '../support/engine-process';
import { eventually } from '../support/engine-server';
import { startHospitalEngine, type HospitalEngine } from '../support/hospital-engine';

/**
 * The demo hospital end to end over the real transports: the simulated HIS (互联互通 SOAP), LIS, PACS and 生殖中心
 * LIS (MLLP) talk to the hospital channels of a real engine with the FHIR store mounted; what they send is read back
 * through the FHIR API, and what a doctor orders there is read back from the HIS simulator.
 */
const PATIENT_SYSTEM = 'urn:oid:2.16.156.10011.2.5.1.4';
const RESIDENT_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.3';
const CATEGORY = 'https://lingshu.example.cn/fhir/CodeSystem/report-source|reproductive-center';

interface Received { interaction?: string; outcome: string }

for (const stack of [{ name: 'SQLite + in-process bus', db: 'sqlite' as const, amqp: false }, { name: 'PostgreSQL + RabbitMQ', db: 'postgres' as const, amqp: true }]) {
  describe(`the demo hospital's channels on ${stack.name}`, () => {
    let hospital: HospitalEngine;
    let simulators: SimulatorHost;
    let his: HisPeer;
    let base: string;
    let sim: string;
    const ports = { http: 0, lis: 0, pacs: 0, repro: 0, adt: 0 };

    const json = async <T>(url: string, init?: RequestInit): Promise<T> => (await (await fetch(url, init)).json()) as T;
    const search = (query: string) => json<Bundle>(`${base}/fhir/${query}`);
    const post = (url: string, body: unknown) => json<Record<string, unknown>>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const messages = (query: string) => json<{ messages: { id: string; status: string; correlationId: string }[] }>(`${base}/api/messages?${query}`);

    beforeAll(async () => {
      Object.assign(ports, { http: await freePort(), lis: await freePort(), pacs: await freePort(), repro: await freePort(), adt: await freePort() });
      his = hisPeer({ port: 0, seed: false, lingshu: { wsdl: `http://127.0.0.1:${ports.http}/channels/his-patients?wsdl` } });
      simulators = await startSimulatorHost([
        his,
        lisPeer({ target: { host: '127.0.0.1', port: ports.lis }, charset: 'gbk', ordersPort: 0 }),
        pacsPeer({ target: { host: '127.0.0.1', port: ports.pacs }, charset: 'utf-8', ordersPort: 0 }),
        reproLisPeer({ target: { host: '127.0.0.1', port: ports.repro }, charset: 'gbk', ordersPort: 0 }),
      ], { port: 0 });
      sim = `http://127.0.0.1:${simulators.port}/_sim`;
      hospital = await startHospitalEngine({
        db: stack.db, amqp: stack.amqp, port: ports.http, security: false,
        settings: {
          LINGSHU_PROFILE: 'production',
          LINGSHU_HOSPITAL__CHANNELS__PACS_REPORTS__PORT: String(ports.pacs),
          LINGSHU_HOSPITAL__CHANNELS__REPRODUCTIVE_CENTER_RESULTS__PORT: String(ports.repro),
          LINGSHU_HOSPITAL__CHANNELS__HIS_PATIENTS_ADT__PORT: String(ports.adt),
          LINGSHU_HOSPITAL__CHANNELS__HIS_ORDERS_OUT__TIMEOUT_MS: '5000',
        },
        hospital: (defaults) => demoHospital(defaults, { LINGSHU_DEMO_MLLP_PORT: String(ports.lis), LINGSHU_SIM_HIS_PORT: String(simulators.peers.find((p) => p.name === 'his')!.ports.soap) }),
      });
      base = hospital.base;
    });

    afterAll(async () => {
      await simulators?.stop();
      await hospital?.stop();
    });

    const patientsWith = async (system: string, value: string) => ((await search(`Patient?identifier=${encodeURIComponent(`${system}|${value}`)}`)).entry ?? []).map((e) => e.resource as Patient);
    const sentCount = async (channel: string) => (await messages(`channel=${channel}&status=sent`)).messages.length;

    it('turns a registration the HIS pushes over 互联互通 SOAP into one Patient, however often it is sent', async () => {
      const registration = { id: '0003817265', name: '王小明', idCard: '110101199003074514', gender: '1', birthDate: '19900307' };
      for (let i = 0; i < 2; i++) expect(String((await post(`${sim}/his/patients`, registration)).lingshuAnswer)).toContain('typeCode="AA"');
      await eventually(async () => (await sentCount('his-patients')) >= 2);
      const patients = await patientsWith(PATIENT_SYSTEM, '0003817265');
      expect(patients).toHaveLength(1);
      expect(patients[0].name?.[0].text ?? patients[0].name?.[0].family).toContain('王');
      expect(patients[0].identifier?.[0]).toMatchObject({ system: PATIENT_SYSTEM, value: '0003817265' });
    });

    it('updates the patient with the same ID number instead of adding one (EMPI rule)', async () => {
      await post(`${sim}/his/patients`, { id: 'P000300001', name: '李秀英', idCard: '330106198505124524', gender: '2', birthDate: '19850512' });
      await eventually(async () => (await patientsWith(RESIDENT_ID_SYSTEM, '330106198505124524')).length === 1);
      // The same person registered again under another HIS patient id, with a new phone number.
      await post(`${sim}/his/patients`, { id: 'P000300002', name: '李秀英', idCard: '330106198505124524', gender: '2', birthDate: '19850512', phone: '13911112222' });
      const updated = await eventually(async () => {
        const found = await patientsWith(RESIDENT_ID_SYSTEM, '330106198505124524');
        return found.length === 1 && found[0].telecom?.some((t) => t.value === '13911112222') ? found : undefined;
      });
      expect(updated).toHaveLength(1);
    });

    it('files a LIS result sent over MLLP under the registered patient, readable by DiagnosticReport?subject and Patient/x/DiagnosticReport', async () => {
      const [patient] = await patientsWith(PATIENT_SYSTEM, '0003817265');
      const sent = (await post(`${sim}/lis/results`, { patient: { id: '0003817265', name: '王小明', pinyin: 'WANG XIAO MING', sex: 'M', birthDate: '19900307' } })) as { sent: { controlId: string; ack: { code: string } }[] };
      expect(sent.sent[0].ack.code).toBe('AA');
      const reports = await eventually(async () => {
        const page = await search(`DiagnosticReport?subject=Patient/${patient.id}`);
        return page.entry?.length ? page.entry.map((e) => e.resource as DiagnosticReport) : undefined;
      });
      expect(reports[0].code.coding?.[0].display ?? reports[0].code.text).toBeTruthy();
      // The patient's compartment (R4 compartment search) holds the same reports.
      const inCompartment = await search(`Patient/${patient.id}/DiagnosticReport`);
      expect((inCompartment.entry ?? []).map((e) => e.resource!.id).sort()).toEqual(reports.map((r) => r.id).sort());
      expect(await patientsWith(PATIENT_SYSTEM, '0003817265')).toHaveLength(1);
    });

    it('categorises the 生殖中心 reports so that they can be searched apart from the main laboratory', async () => {
      const [patient] = await patientsWith(PATIENT_SYSTEM, '0003817265');
      const sent = (await post(`${sim}/repro-lis/results`, { patient: { id: '0003817265', name: '王小明', pinyin: 'WANG XIAO MING', sex: 'F', birthDate: '19900307' } })) as { sent: { ack: { code: string } }[] };
      expect(sent.sent[0].ack.code).toBe('AA');
      const repro = await eventually(async () => {
        const page = await search(`DiagnosticReport?subject=Patient/${patient.id}&category=${encodeURIComponent(CATEGORY)}`);
        return page.entry?.length ? page.entry.map((e) => e.resource as DiagnosticReport) : undefined;
      });
      expect(repro.every((r) => r.code.coding?.some((c) => c.code === 'SEX6'))).toBe(true);
      const all = await search(`DiagnosticReport?subject=Patient/${patient.id}`);
      expect(all.entry!.length).toBeGreaterThan(repro.length);
    });

    it('sends a doctor\'s ServiceRequest to the HIS as POOR_IN200901UV and writes the HIS 医嘱号 back onto it', async () => {
      const [patient] = await patientsWith(PATIENT_SYSTEM, '0003817265');
      const res = await fetch(`${base}/fhir/ServiceRequest`, {
        method: 'POST', headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient.id}` },
          code: { coding: [{ system: 'urn:oid:2.16.156.10011.2.5.1.98', code: '250101001', display: '血常规' }], text: '血常规' },
        }),
      });
      expect(res.status).toBe(201);
      const created = (await res.json()) as ServiceRequest;
      const written = await eventually(async () => {
        const current = await json<ServiceRequest>(`${base}/fhir/ServiceRequest/${created.id}`);
        return current.identifier?.some((i) => i.type?.coding?.[0].code === 'FILL') ? current : undefined;
      });
      const hisOrders = await json<{ id: string; placerNumber?: string; patientId: string }[]>(`${sim}/his/orders`);
      const order = hisOrders.find((o) => o.placerNumber === `LS${created.id}`);
      expect(order).toMatchObject({ patientId: '0003817265' });
      expect(written.identifier).toContainEqual(expect.objectContaining({ system: 'urn:oid:2.16.156.10011.1.28', value: order!.id }));
      const received = await json<Received[]>(`${sim}/his/received`);
      expect(received.filter((r) => r.interaction === 'POOR_IN200901UV')).toEqual([expect.objectContaining({ outcome: 'AA' })]);
    });

    it('does not echo the write-back to the HIS, and sends a later change of the order as POOR_IN200902UV', async () => {
      const [order] = ((await search('ServiceRequest?code=250101001')).entry ?? []).map((e) => e.resource as ServiceRequest);
      await eventually(async () => (await sentCount('his-orders-out')) >= 1 && (await messages('channel=his-orders-out&status=filtered')).messages.length >= 1);
      expect((await json<Received[]>(`${sim}/his/received`)).filter((r) => r.interaction === 'POOR_IN200902UV')).toHaveLength(0);
      const res = await fetch(`${base}/fhir/ServiceRequest/${order.id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...order, status: 'revoked' }) });
      expect(res.status).toBe(200);
      await eventually(async () => (await json<Received[]>(`${sim}/his/received`)).some((r) => r.interaction === 'POOR_IN200902UV' && r.outcome === 'AA'));
      const versions = await json<Bundle>(`${base}/fhir/ServiceRequest/${order.id}/_history`);
      expect(versions.entry).toHaveLength(3);
    });

    describe('a message the mapping refuses', () => {
      const MSH = (type: string, controlId: string) => `MSH|^~\\&|LIS|桃源院区检验科|LINGSHU|桃源院区|20251125093015||${type}|${controlId}|P|2.4|||AL|NE|CHN|UNICODE UTF-8`;
      const PID = (id: string) => `PID|1||${id}^^^HIS^PI||赵六^ZHAO LIU||19700101|M`;
      const OBR = (filler: string, when = '20251125082000') => `OBR|1|O${filler}^HIS|${filler}^LIS|CBC^血常规^L|||${when}|||||||20251125083000|静脉血|1024^李建国||||||20251125093012||HM|F`;
      const OBX = (value: string) => `OBX|1|TX|NOTE^备注^L||${value}||||||F`;

      const cases: { name: string; port: () => number; channel: string; controlId: string; pid: string; segments: string[]; reason: RegExp }[] = [
        { name: 'without MSH-9', port: () => ports.lis, channel: 'lis-results', controlId: 'BAD0001', pid: 'BADPID01', segments: [MSH('', 'BAD0001'), PID('BADPID01'), OBR('BADF01'), OBX('x')], reason: /MSH-9/ },
        { name: 'of an unknown event', port: () => ports.adt, channel: 'his-patients-adt', controlId: 'BAD0002', pid: 'BADPID02', segments: [MSH('ADT^A99^ADT_A01', 'BAD0002'), 'EVN|A99|20251125093015', PID('BADPID02'), 'PV1|1|O'], reason: /A99/ },
        { name: 'with an invalid date', port: () => ports.lis, channel: 'lis-results', controlId: 'BAD0003', pid: 'BADPID03', segments: [MSH('ORU^R01^ORU_R01', 'BAD0003'), PID('BADPID03'), OBR('BADF03', '20251345250000'), OBX('x')], reason: /OBR-7|date/i },
        { name: 'with a 50,000-character OBX-5', port: () => ports.lis, channel: 'lis-results', controlId: 'BAD0004', pid: 'BADPID04', segments: [MSH('ORU^R01^ORU_R01', 'BAD0004'), PID('BADPID04'), OBR('BADF04'), OBX('长'.repeat(50_000))], reason: /OBX-5|limit/ },
      ];

      for (const c of cases) {
        it(`${c.name} is answered with the reason, kept with status error and writes nothing`, async () => {
          const client = await MllpClient.connect({ host: '127.0.0.1', port: c.port() });
          try {
            const reply = (await client.send(Buffer.from(c.segments.join('\r') + '\r', 'utf8'))).toString('utf8');
            const msa = reply.split('\r').find((s) => s.startsWith('MSA|'))!.split('|');
            expect(['AE', 'AR']).toContain(msa[1]);
            expect(msa[3]).toMatch(c.reason);
          } finally {
            client.close();
          }
          const errored = await eventually(async () => {
            const list = await messages(`status=error&channel=${c.channel}`);
            return list.messages.find((m) => m.correlationId === c.controlId);
          });
          expect(errored.status).toBe('error');
          expect(await patientsWith('urn:oid:2.16.156.10011.2.5.1.4', c.pid)).toHaveLength(0);
        });
      }
    });
  });
}
