import { demoGateways, type DemoPaymentKeys } from './demo-payment-keys';
import type { HospitalConfig } from './hospital-config';

/**
 * The demo profile's hospital: every channel on, pointed at the simulated peers (simulators/): the LIS on the demo
 * MLLP port (LINGSHU_DEMO_MLLP_PORT, 2575), the PACS and the 生殖中心 LIS on their channels' ports, and the HIS's
 * 互联互通 service on LINGSHU_SIM_HIS_PORT (9101) unless a WSDL is configured.
 */
export function demoHospital(hospital: HospitalConfig, env: NodeJS.ProcessEnv, paymentKeys?: DemoPaymentKeys): HospitalConfig {
  const c = hospital.channels;
  const on = <T extends { enabled: boolean }>(settings: T): T => ({ ...settings, enabled: true });
  const hisWsdl = `http://127.0.0.1:${env.LINGSHU_SIM_HIS_PORT ?? 9101}/HISService.asmx?wsdl`;
  return {
    ...hospital,
    // Payments against the simulated WeChat Pay and Alipay, with keys made for this run (demo-payment-keys.ts).
    ...(paymentKeys ? {
      payments: {
        ...hospital.payments, enabled: true, gateways: demoGateways(paymentKeys, env),
        notifyBaseUrl: hospital.payments.notifyBaseUrl || `http://127.0.0.1:${env.LINGSHU_PORT ?? 8080}`,
      },
    } : {}),
    channels: {
      hisPatients: on(c.hisPatients),
      hisPatientsAdt: on(c.hisPatientsAdt),
      hisVisits: on(c.hisVisits),
      hisOrders: on(c.hisOrders),
      hisOrdersOut: on({ ...c.hisOrdersOut, wsdl: c.hisOrdersOut.wsdl || hisWsdl }),
      hisCharges: on({ ...c.hisCharges, wsdl: c.hisCharges.wsdl || hisWsdl }),
      lisResults: on({ ...c.lisResults, port: env.LINGSHU_DEMO_MLLP_PORT ? Number(env.LINGSHU_DEMO_MLLP_PORT) : c.lisResults.port }),
      pacsReports: on(c.pacsReports),
      reproductiveCenterResults: on(c.reproductiveCenterResults),
      medtechBooking: on({
        ...c.medtechBooking,
        url: c.medtechBooking.url || `http://127.0.0.1:${env.LINGSHU_SIM_MEDTECH_BOOKING_PORT ?? 9111}`,
        token: c.medtechBooking.token || (env.LINGSHU_SIM_MEDTECH_BOOKING_TOKEN ?? 'demo-medtech-token'),
      }),
      // Every 30 s, so the demo's 号源 show up soon after start-up.
      medtechSlots: on({ ...c.medtechSlots, cron: '*/30 * * * * *' }),
      prescriptionCirculation: on(demoCirculation(c.prescriptionCirculation, env)),
      // Dictionaries from the HIS's view and the drug database simulator; increments every 10 s so edits show up soon.
      hisChargeItems: on({
        ...c.hisChargeItems, incrementalCron: '*/10 * * * * *',
        url: c.hisChargeItems.url || `http://127.0.0.1:${env.LINGSHU_SIM_HIS_PORT ?? 9101}/api/dictionary`,
      }),
      drugDatabase: on({
        ...c.drugDatabase, incrementalCron: '*/10 * * * * *',
        url: c.drugDatabase.url || `http://127.0.0.1:${env.LINGSHU_SIM_DRUG_DATABASE_PORT ?? 9118}`,
        apiKey: c.drugDatabase.apiKey || (env.LINGSHU_SIM_DRUG_DATABASE_API_KEY ?? 'demo-drug-database-key'),
      }),
    },
  };
}

/**
 * 处方流转 against the simulated platform (LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT, 9112) and pharmacy (…_PHARMACY_PORT,
 * 9113): the 桃源 and 北院 campus pharmacies take prescriptions through the platform, 星湖大药房 through its own API
 * with the simulator's demo key.
 */
function demoCirculation(c: HospitalConfig['channels']['prescriptionCirculation'], env: NodeJS.ProcessEnv): HospitalConfig['channels']['prescriptionCirculation'] {
  const pharmacyApi = `http://127.0.0.1:${env.LINGSHU_SIM_PHARMACY_PORT ?? 9113}/api`;
  return {
    ...c,
    platform: {
      ...c.platform,
      url: c.platform.url || `http://127.0.0.1:${env.LINGSHU_SIM_PRESCRIPTION_PLATFORM_PORT ?? 9112}/fixmedins`,
      fixmedinsCode: c.platform.fixmedinsCode || (env.LINGSHU_SIM_PRESCRIPTION_PLATFORM_FIXMEDINS_CODES ?? 'H33010600001').split(',')[0].trim(),
      pollCron: '*/20 * * * * *',
    },
    pharmacies: Object.keys(c.pharmacies).length ? c.pharmacies : {
      'TY-MZYF': { via: 'platform', name: '桃源院区门诊药房' },
      'BY-MZYF': { via: 'platform', name: '北院院区门诊药房' },
      'XH-DYF': {
        via: 'api', name: '星湖大药房', address: '星湖路 88 号', url: pharmacyApi,
        appId: env.LINGSHU_SIM_PHARMACY_APP_ID ?? 'lingshu-demo', key: env.LINGSHU_SIM_PHARMACY_SECRET ?? 'demo-pharmacy-secret',
      },
    },
  };
}

/** Where the simulated peers send, unless told otherwise: each to its channel, the HIS to his-patients and his-orders. */
export function demoSimulatorEnv(hospital: HospitalConfig, env: NodeJS.ProcessEnv, lingshuPort: number): NodeJS.ProcessEnv {
  const c = hospital.channels;
  return {
    LINGSHU_SIM_LIS_TARGET: `127.0.0.1:${c.lisResults.port}`,
    LINGSHU_SIM_PACS_TARGET: `127.0.0.1:${c.pacsReports.port}`,
    LINGSHU_SIM_REPRO_LIS_TARGET: `127.0.0.1:${c.reproductiveCenterResults.port}`,
    LINGSHU_SIM_HIS_LINGSHU_WSDL: `http://127.0.0.1:${lingshuPort}/channels/his-patients?wsdl`,
    LINGSHU_SIM_HIS_MLLP_TARGET: `127.0.0.1:${c.hisPatientsAdt.port}`,
    LINGSHU_SIM_MEDTECH_BOOKING_NOTIFY_URL: `http://127.0.0.1:${lingshuPort}/channels/medtech-booking/notify`,
    LINGSHU_SIM_MEDTECH_BOOKING_TOKEN: c.medtechBooking.token || undefined,
    LINGSHU_SIM_PHARMACY_CALLBACK_URL: `http://127.0.0.1:${lingshuPort}/channels/pharmacy-callback`,
    LINGSHU_SIM_HIS_LINGSHU_ORDERS_WSDL: `http://127.0.0.1:${lingshuPort}/channels/his-orders?wsdl`,
    ...env,
    LINGSHU_PORT: String(lingshuPort),
  };
}
