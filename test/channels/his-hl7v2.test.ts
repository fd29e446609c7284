import type { Bundle, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { ORDER_CATEGORY_SYSTEM } from '../../mappings/hl7v2';
import { hisPeer } from '../../simulators/his/his-peer';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { freePort } from '../support/engine-process';
import { eventually } from '../support/engine-server';
import { startHospitalEngine, type HospitalEngine } from '../support/hospital-engine';

/**
 * The HIS interface that speaks HL7 v2: the simulated HIS sends ADT^A04 / A08 and ORM^O01 over MLLP to the
 * his-patients-adt channel of a real engine, reads the ACKs, and what it sent is read back through the FHIR API.
 */
const PATIENT_SYSTEM = 'urn:oid:2.16.156.10011.2.5.1.4';
const HIS_PATIENT = 'P000400721';

interface Sent { type: string; controlId: string; ack?: { code: string; controlId: string; text: string }; error?: string; orders?: { id: string; code: string }[] }

describe('the HIS over HL7 v2 (MLLP) into the store (SQLite + in-process bus)', () => {
  let lingshu: HospitalEngine;
  let simulators: SimulatorHost;
  let base: string;
  let sim: string;

  const json = async <T>(url: string, init?: RequestInit): Promise<T> => (await (await fetch(url, init)).json()) as T;
  const search = async <T extends Resource>(query: string): Promise<T[]> => ((await json<Bundle>(`${base}/fhir/${query}`)).entry ?? []).map((e) => e.resource as T);
  const post = async (url: string, body: unknown) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Sent };
  };
  const patients = () => search<Patient>(`Patient?identifier=${encodeURIComponent(`${PATIENT_SYSTEM}|${HIS_PATIENT}`)}`);

  beforeAll(async () => {
    const [mllpPort, refusedPort] = [await freePort(), await freePort()];
    simulators = await startSimulatorHost([
      hisPeer({ port: 0, seed: false, mllp: { host: '127.0.0.1', port: mllpPort } }),
      // The same HIS with nothing listening where it sends, to see how it reports that.
      Object.assign(hisPeer({ port: 0, seed: false, mllp: { host: '127.0.0.1', port: refusedPort } }), { name: 'his-unreachable' }),
    ], { port: 0 });
    sim = `http://127.0.0.1:${simulators.port}/_sim`;
    lingshu = await startHospitalEngine({
      db: 'sqlite', security: false, settings: { LINGSHU_PROFILE: 'production' },
      hospital: (defaults) => ({ ...defaults, channels: { ...defaults.channels, hisPatientsAdt: { enabled: true, port: mllpPort } } }),
    });
    base = lingshu.base;
    // Registered in the HIS only: what reaches Lingshu here goes over MLLP, not the 互联互通 push.
    const registered = await fetch(`${sim}/his/patients`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: HIS_PATIENT, name: '蒙桂芳', idCard: '450103197711021220', gender: '2', birthDate: '19771102', notify: false }),
    });
    expect(registered.status).toBe(201);
  });

  afterAll(async () => {
    await simulators?.stop();
    await lingshu?.stop();
  });

  it('turns the ADT^A04 the HIS sends over MLLP into a Patient, and the HIS reads an AA for it', async () => {
    const sent = await post(`${sim}/his/adt`, { patientId: HIS_PATIENT, event: 'A04' });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ type: 'ADT^A04', ack: { code: 'AA', controlId: sent.body.controlId } });
    const [patient] = await eventually(async () => ((await patients()).length ? patients() : undefined));
    expect(patient.identifier).toContainEqual(expect.objectContaining({ system: PATIENT_SYSTEM, value: HIS_PATIENT }));
    expect(patient.gender).toBe('female');
    expect(patient.birthDate).toBe('1977-11-02');
  });

  it('updates that Patient, not a second one, from the ADT^A08 the HIS sends after a change', async () => {
    const sent = await post(`${sim}/his/adt`, { patientId: HIS_PATIENT, event: 'A08', changes: { phone: '13907710001' } });
    expect(sent.body.ack?.code).toBe('AA');
    const updated = await eventually(async () => {
      const found = await patients();
      return found.some((p) => p.telecom?.some((t) => t.value === '13907710001')) && found;
    });
    expect(updated).toHaveLength(1);
  });

  it('turns the ORM^O01 the HIS sends into one ServiceRequest per ordered item, for that Patient', async () => {
    const sent = await post(`${sim}/his/orm`, { patientId: HIS_PATIENT, category: 'exam' });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ type: 'ORM^O01', ack: { code: 'AA' } });
    const [patient] = await patients();
    const requests = await eventually(async () => {
      const found = await search<ServiceRequest>(`ServiceRequest?subject=Patient/${patient.id}`);
      return found.length === sent.body.orders!.length && found;
    });
    expect(requests.map((r) => r.code?.coding?.[0].code).sort()).toEqual(sent.body.orders!.map((o) => o.code).sort());
    for (const r of requests) {
      expect(r.category?.[0].coding?.[0]).toMatchObject({ system: ORDER_CATEGORY_SYSTEM, code: 'exam' });
      // The HIS 医嘱号 is the placer number, so a resend or a cancel finds the same request.
      expect(sent.body.orders!.map((o) => o.id)).toContain(r.identifier?.[0].value);
    }
  });

  it('reports a target that refuses the connection as an error with no ACK, and keeps it in what it sent', async () => {
    const sent = await post(`${sim}/his-unreachable/adt`, { patientId: HIS_PATIENT });
    expect(sent.status).toBe(404); // the unreachable HIS does not know the patient: registered in the other one only
    await fetch(`${sim}/his-unreachable/patients`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: HIS_PATIENT, name: '蒙桂芳', gender: '2', notify: false }),
    });
    const refused = await post(`${sim}/his-unreachable/adt`, { patientId: HIS_PATIENT });
    expect(refused.status).toBe(502);
    expect(refused.body.error).toMatch(/ECONNREFUSED/);
    const log = await json<{ sent: Sent[] }>(`${sim}/his-unreachable/hl7v2`);
    expect(log.sent).toEqual([expect.objectContaining({ type: 'ADT^A04', error: expect.stringMatching(/ECONNREFUSED/) })]);
  });
});
