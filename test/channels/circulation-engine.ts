import { parseSearchRequest } from '@medplum/core';
import type { Invoice, MedicationDispense, MedicationRequest, Patient, Task } from '@medplum/fhirtypes';
import { pharmacySignedHeaders } from '../../adapters/circulation/pharmacy-signature';
import { demoHospital } from '../../channels/demo-hospital';
import {
  PHARMACY_CODE_SYSTEM, PICKUP_CODE_SYSTEM, PRESCRIPTION_NO_SYSTEM, TASK_BUSINESS_STATUS_SYSTEM, TASK_CODE_SYSTEM,
} from '../../fhir-resources/billing/billing-vocabulary';
import { startSimulatorHost, SimulatorHost } from '../../simulators/host';
import { pharmacyPeer, PharmacyPeer } from '../../simulators/pharmacy/pharmacy-peer';
import { prescriptionPlatformPeer, PrescriptionPlatformPeer } from '../../simulators/prescription-platform/prescription-platform-peer';
import type { TestDatabase } from '../support/databases';
import { freePort } from '../support/engine-process';
import { eventually } from '../support/engine-server';
import { startHospitalEngine, type HospitalEngine } from '../support/hospital-engine';

export const APP_ID = 'lingshu-demo';
export const KEY = 'circulation-test-key';
const FIXMEDINS = 'H33010600001';

export interface CirculationStack { name: string; db: TestDatabase['name']; amqp: boolean }

/**
 * The engine with only the 处方流转 interface on, against the simulated 处方流转平台 and third-party pharmacy (polled
 * every second so that tests do not wait for the demo's schedule), and what the circulation tests do with them.
 * Registers its own beforeAll / afterAll: call it inside a describe.
 */
export function circulationEngine(stack: CirculationStack) {
  let hospital: HospitalEngine;
  let simulators: SimulatorHost;
  let platform: PrescriptionPlatformPeer;
  let pharmacy: PharmacyPeer;
  let sim: string;
  let seq = 0;

  const control = async <T>(path: string, body: unknown = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${sim}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as T };
  };
  const repo = () => hospital.store();
  const task = (id: string) => repo().read<Task>('Task', id);
  const state = (t: Task) => [t.status, t.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS_SYSTEM)?.code];
  const reaches = (id: string, status: string, business: string) => eventually(async () => {
    const t = await task(id);
    return state(t)[0] === status && state(t)[1] === business ? t : undefined;
  }, 30_000);
  const output = (t: Task, code: string) => t.output?.find((o) => o.type?.coding?.[0]?.code === code)?.valueString;
  const pharmacyId = async (code: string) => {
    const found = await repo().search(parseSearchRequest('Organization', { identifier: `${PHARMACY_CODE_SYSTEM}|${code}` }));
    return found.resources[0].id!;
  };
  const dispensesOf = async (taskId: string) => (await repo().search(parseSearchRequest('MedicationDispense', { _count: '100' }))).resources
    .filter((d) => (d as MedicationDispense).supportingInformation?.some((s) => s.reference === `Task/${taskId}`)) as MedicationDispense[];
  const messages = async (channel: string) => (await hospital.messages.search({ channel, limit: 500 })).messages;

  /** A paid prescription of two drugs and the Task the payment workflow makes for it, owned by the pharmacy `code`. */
  async function paidPrescription(code: string | undefined, options: { split?: boolean; rxNo?: string; quantity?: number; authoredOn?: string; delivery?: boolean } = {}): Promise<{ taskId: string; rxNo: string; rxNo2: string; pickupCode: string; requests: string[] }> {
    seq++;
    const rxNo = options.rxNo ?? `CF2026112600${String(seq).padStart(2, '0')}${Date.now() % 1000}`;
    // With split, the second drug is on a second prescription paid in the same Invoice.
    const rxNo2 = options.split ? `${rxNo}B` : rxNo;
    const pickupCode = String(600000 + seq);
    const { resource: patient } = await repo().create<Patient>({ resourceType: 'Patient', name: [{ text: '张三' }], gender: 'male', telecom: [{ system: 'phone', value: '13800138000' }] });
    const drug = (code: string, name: string, quantity: number, number = rxNo): MedicationRequest => ({
      resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient.id}` }, authoredOn: options.authoredOn ?? new Date().toISOString(),
      groupIdentifier: { system: PRESCRIPTION_NO_SYSTEM, value: number },
      medicationCodeableConcept: { coding: [{ system: 'http://lingshu.health/sid/nhsa-drug', code }], text: name },
      dosageInstruction: [{ text: '口服，一日3次' }], dispenseRequest: { quantity: { value: quantity, unit: '盒' } },
    });
    const requests = [
      (await repo().create(drug('XJ01CAA040A001010100483', '阿莫西林胶囊', options.quantity ?? 2))).resource.id!,
      (await repo().create(drug('ZA06BAB0097010104421', '蓝芩口服液', 1, rxNo2))).resource.id!,
    ];
    const { resource: invoice } = await repo().create<Invoice>({
      resourceType: 'Invoice', status: 'balanced', subject: { reference: `Patient/${patient.id}` }, identifier: [{ system: PICKUP_CODE_SYSTEM, value: pickupCode }],
    });
    const { resource: created } = await repo().withContext({ correlationId: `payment-${seq}` }).create<Task>({
      resourceType: 'Task', status: 'requested', intent: 'order',
      code: { coding: [{ system: TASK_CODE_SYSTEM, code: 'circulation' }] },
      businessStatus: { coding: [{ system: TASK_BUSINESS_STATUS_SYSTEM, code: 'pending-review', display: '待审方' }], text: '待审方' },
      focus: { reference: `Invoice/${invoice.id}` }, basedOn: requests.map((id) => ({ reference: `MedicationRequest/${id}` })),
      for: { reference: `Patient/${patient.id}` }, ...(code ? { owner: { reference: `Organization/${await pharmacyId(code)}` } } : {}),
      input: [{ type: { text: 'pickupCode' }, valueString: pickupCode }, ...(options.delivery ? [{ type: { text: 'delivery' }, valueCode: 'delivery' }] : [])],
    });
    return { taskId: created.id!, rxNo, rxNo2, pickupCode, requests };
  }

  /** What the refund workflow does to a refunded prescription's Task. */
  const cancel = async (id: string) => {
    const current = await task(id);
    await repo().withContext({ correlationId: `refund-${id}` }).update<Task>({ ...current, status: 'cancelled', statusReason: { text: '患者申请退费' } });
  };

  /** Four days ago: past the 3 days a prescription stays valid (the demo's platform.validDays and pharmacyValidDays). */
  const longAgo = () => new Date(Date.now() - 4 * 86_400_000).toISOString();
  const versions = async (id: string) => (await repo().history('Task', id)).entries.length;
  const polledFor = (rxNo: string) => pharmacy.received.filter((r) => r.method === 'GET' && r.path === `/api/prescriptions/${rxNo}`).length;
  const callback = (payload: object) => {
    const body = JSON.stringify(payload);
    return fetch(`${hospital.base}/channels/pharmacy-callback`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...pharmacySignedHeaders(KEY, APP_ID, body) } });
  };
  const answerOf = async (res: Response) => {
    const { messageId } = (await res.json()) as { messageId: string };
    const stored = await eventually(async () => {
      const m = await hospital.messages.get(messageId);
      return m?.status === 'sent' ? m : undefined;
    });
    return stored.stages.find((st) => st.name === 'task')?.response;
  };

  const platformRx = (rxNo: string) => platform.state.rx.get([...platform.state.rx.values()].find((r) => r.hospRxno === rxNo)?.hiRxno ?? '');

  beforeAll(async () => {
    const http = await freePort();
    platform = prescriptionPlatformPeer({ port: 0, fixmedinsCodes: [FIXMEDINS] });
    pharmacy = pharmacyPeer({ port: 0, apps: { [APP_ID]: KEY }, callbackUrl: `http://127.0.0.1:${http}/channels/pharmacy-callback`, pharmacyName: '星湖大药房(模拟)' });
    simulators = await startSimulatorHost([platform, pharmacy], { port: 0 });
    sim = `http://127.0.0.1:${simulators.port}/_sim`;
    hospital = await startHospitalEngine({
      db: stack.db, amqp: stack.amqp, port: http,
      hospital: (site) => {
        const demo = demoHospital(site, {
          LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT: String(new URL(platform.url).port), LINGSHU_SIM_PHARMACY_PORT: String(new URL(pharmacy.url).port),
          LINGSHU_SIM_PRESCRIPTION_PLATFORM_FIXMEDINS_CODES: FIXMEDINS, LINGSHU_SIM_PHARMACY_APP_ID: APP_ID, LINGSHU_SIM_PHARMACY_SECRET: KEY,
        }).channels.prescriptionCirculation;
        // Only this interface, polled every second so that the test does not wait for the demo's schedule.
        return { ...site, channels: { ...site.channels, prescriptionCirculation: {
          ...demo, platform: { ...demo.platform, pollCron: '* * * * * *' }, pharmacyPollCron: '* * * * * *', expiryCron: '* * * * * *',
        } } };
      },
    });
  });

  afterAll(async () => {
    await simulators?.stop();
    await hospital?.stop();
  });

  return {
    get base() { return hospital.base; },
    get messageStore() { return hospital.messages; },
    get platform() { return platform; },
    get pharmacy() { return pharmacy; },
    control, repo, task, state, reaches, output, pharmacyId, dispensesOf, messages, paidPrescription, cancel, longAgo, versions, polledFor, callback,
    answerOf, platformRx,
  };
}
