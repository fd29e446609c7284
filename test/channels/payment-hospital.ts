import type { ChargeItem, MedicationRequest, Organization, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { demoGateways, demoPaymentKeys, type DemoPaymentKeys } from '../../channels/demo-payment-keys';
import type { HospitalConfig } from '../../channels/hospital-config';
import { CHARGE_CODE_SYSTEM, CHARGE_STATUS, PRESCRIPTION_NO_SYSTEM, UNIT_PRICE_EXTENSION } from '../../fhir-resources/billing/billing-vocabulary';
import { money } from '../../fhir-resources/billing/money';
import type { Repository } from '../../fhir-resources/store/repository';
import { alipayPeer, AlipayPeer } from '../../simulators/alipay/alipay-peer';
import { wechatPayPeer, WechatPayPeer } from '../../simulators/wechatpay/wechatpay-peer';
import type { TestDatabase } from '../support/databases';
import { startHospitalEngine, type HospitalEngine } from '../support/hospital-engine';

/**
 * A hospital with online payment for tests: a real engine (its own database, bus prefix and port) with the FHIR
 * store, security (demo token issuer) and the payment channels, against the WeChat Pay and Alipay simulators on
 * free ports with keys made for the run.
 */
export interface PaymentHospital extends HospitalEngine {
  wechat: WechatPayPeer;
  alipay: AlipayPeer;
}

export interface PaymentHospitalOptions {
  db: TestDatabase['name'];
  amqp: boolean;
  /** The active query: seconds an order waits before it is asked about. */
  queryAfterSeconds?: number;
  /** Adjusts the hospital configuration (other channels the test needs). */
  adjust?: (hospital: HospitalConfig, ports: { http: number }) => HospitalConfig;
}

export async function startPaymentHospital(o: PaymentHospitalOptions): Promise<PaymentHospital> {
  const keys: DemoPaymentKeys = await demoPaymentKeys();
  const w = keys.wechatpay;
  const a = keys.alipay;
  const wechat = wechatPayPeer({
    port: 0, mchid: w.mchid, appid: w.appid, apiV3Key: w.apiV3Key, merchantPublicKey: w.merchant.publicKey, merchantSerial: w.merchantSerial,
    platformPrivateKey: w.platform.privateKey, platformSerial: w.platformSerial,
  });
  const alipay = alipayPeer({ port: 0, appId: a.appId, pid: a.pid, appPublicKey: a.app.publicKey, alipayPrivateKey: a.alipay.privateKey });
  const wechatPort = (await wechat.start()).api;
  const alipayPort = Object.values(await alipay.start())[0];
  let engine: HospitalEngine;
  try {
    engine = await startHospitalEngine({
      db: o.db, amqp: o.amqp,
      hospital: (configured, ports) => {
        const hospital: HospitalConfig = {
          ...configured,
          payments: {
            ...configured.payments, enabled: true, notifyBaseUrl: `http://127.0.0.1:${ports.http}`,
            query: { cron: '* * * * * *', afterSeconds: o.queryAfterSeconds ?? 2 },
            gateways: demoGateways(keys, { LINGSHU_SIM_WECHATPAY_PORT: String(wechatPort), LINGSHU_SIM_ALIPAY_PORT: String(alipayPort) }),
          },
        };
        return o.adjust ? o.adjust(hospital, ports) : hospital;
      },
    });
  } catch (err) {
    await wechat.stop();
    await alipay.stop();
    throw err;
  }
  return {
    ...engine, wechat, alipay,
    async stop() {
      await wechat.stop();
      await alipay.stop();
      await engine.stop();
    },
  };
}

/** What the HIS orders channel writes for a prescription and an exam, written straight into the store. */
export async function seedBills(repo: Repository, name: string, rxNo: string): Promise<{ patient: Patient; drugs: MedicationRequest[]; exam: ServiceRequest; items: ChargeItem[]; pharmacy: Organization }> {
  const create = async <T extends Resource>(r: T): Promise<T> => (await repo.create(r)).resource;
  const patient = await create<Patient>({ resourceType: 'Patient', name: [{ text: name }], gender: 'female' });
  const subject = { reference: `Patient/${patient.id}` };
  const pharmacy = await create<Organization>({ resourceType: 'Organization', name: '桃源院区门诊药房' });
  const drugs = await Promise.all([['阿莫西林胶囊 0.25g*24粒', 1250], ['布洛芬缓释胶囊 0.3g*20粒', 2880]].map(([text]) => create<MedicationRequest>({
    resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject,
    groupIdentifier: { system: PRESCRIPTION_NO_SYSTEM, value: rxNo }, medicationCodeableConcept: { text: String(text) },
    dosageInstruction: [{ text: '口服，一日三次', patientInstruction: '饭后服用' }],
  })));
  const exam = await create<ServiceRequest>({
    resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject, code: { text: '胸部X线摄影(DR)' },
    category: [{ text: '检查' }], patientInstruction: '检查前取下金属饰品',
  });
  const charge = (service: string, text: string, fen: number) => create<ChargeItem>({
    resourceType: 'ChargeItem', status: CHARGE_STATUS.unpaid, subject, service: [{ reference: service }],
    code: { coding: [{ system: CHARGE_CODE_SYSTEM, code: text }], text }, quantity: { value: 1 },
    extension: [{ url: UNIT_PRICE_EXTENSION, valueMoney: money(fen) }], priceOverride: money(fen), occurrenceDateTime: new Date().toISOString(),
  });
  const items = [
    await charge(`MedicationRequest/${drugs[0].id}`, '阿莫西林胶囊', 1250),
    await charge(`MedicationRequest/${drugs[1].id}`, '布洛芬缓释胶囊', 2880),
    await charge(`ServiceRequest/${exam.id}`, '胸部X线摄影(DR)', 7000),
  ];
  return { patient, drugs, exam, items, pharmacy };
}
