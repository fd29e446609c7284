import type { SimulatedPeer } from './peer';
import { hisPeer, HisPeerOptions } from './his/his-peer';
import { lisPeer } from './lis/lis-peer';
import { pacsPeer } from './pacs/pacs-peer';
import { reproLisPeer } from './repro-lis/repro-lis-peer';
import type { ResultSenderConfig } from './mllp/result-sender-peer';
import { alipayPeer } from './alipay/alipay-peer';
import { alipayOptions, AlipayPeerOptions } from './alipay/alipay-keys';
import { wechatPayPeer } from './wechatpay/wechatpay-peer';
import { wechatPayOptions, WechatPayPeerOptions } from './wechatpay/wechatpay-keys';
import { medtechBookingPeer, MedtechBookingPeerOptions } from './medtech-booking/medtech-booking-peer';
import { prescriptionPlatformPeer, PrescriptionPlatformPeerOptions } from './prescription-platform/prescription-platform-peer';
import { pharmacyPeer, PharmacyPeerOptions } from './pharmacy/pharmacy-peer';
import { regulatorPeer, RegulatorPeerOptions } from './regulator/regulator-peer';
import { smsGatewayPeer, SmsGatewayPeerOptions } from './sms-gateway/sms-gateway-peer';
import { drugDatabasePeer, DrugDatabasePeerOptions } from './drug-database/drug-database-peer';

export interface SimulatorConfig {
  /** Control port (GET /_sim/ …). */
  port: number;
  lis: ResultSenderConfig;
  pacs: ResultSenderConfig;
  reproLis: ResultSenderConfig;
  his: HisPeerOptions;
  wechatpay: WechatPayPeerOptions;
  alipay: AlipayPeerOptions;
  medtechBooking: MedtechBookingPeerOptions;
  prescriptionPlatform: PrescriptionPlatformPeerOptions;
  pharmacy: PharmacyPeerOptions;
  regulator: RegulatorPeerOptions;
  smsGateway: SmsGatewayPeerOptions;
  drugDatabase: DrugDatabasePeerOptions;
}

function target(value: string | undefined): { host: string; port: number } {
  // Lingshu's demo HL7 v2 inbound listener (ARCHITECTURE.md, fixed interfaces).
  const [host, port] = (value ?? '127.0.0.1:2575').split(':');
  return { host: host || '127.0.0.1', port: Number(port) || 2575 };
}

function charset(value: string | undefined, fallback: 'utf-8' | 'gbk'): 'utf-8' | 'gbk' {
  const v = (value ?? '').toLowerCase();
  return v === 'gbk' || v === 'gb18030' ? 'gbk' : v === 'utf-8' || v === 'utf8' ? 'utf-8' : fallback;
}

/**
 * Every setting from the environment: LINGSHU_SIM_<PEER>_TARGET (host:port), _CHARSET (utf-8 | gbk), _PORT;
 * LINGSHU_SIM_HIS_PORT, LINGSHU_SIM_HIS_LINGSHU_WSDL and _ORDERS_WSDL (where new 医嘱 go), and
 * LINGSHU_SIM_HIS_MLLP_TARGET (host:port of Lingshu's HL7 v2 ADT / ORM listener, default 2580) for the HIS.
 */
export function simulatorConfig(env: NodeJS.ProcessEnv = process.env): SimulatorConfig {
  const peer = (prefix: string, defaultCharset: 'utf-8' | 'gbk', defaultPort: number): ResultSenderConfig => ({
    target: target(env[`${prefix}_TARGET`]),
    charset: charset(env[`${prefix}_CHARSET`], defaultCharset),
    ordersPort: env[`${prefix}_PORT`] !== undefined ? Number(env[`${prefix}_PORT`]) : defaultPort,
  });
  return {
    port: env.LINGSHU_SIM_PORT !== undefined ? Number(env.LINGSHU_SIM_PORT) : 9100,
    // Most domestic LIS products still send GBK; the PACS here is a newer UTF-8 system.
    lis: peer('LINGSHU_SIM_LIS', 'gbk', 2576),
    pacs: peer('LINGSHU_SIM_PACS', 'utf-8', 2577),
    reproLis: peer('LINGSHU_SIM_REPRO_LIS', 'gbk', 2578),
    his: {
      port: env.LINGSHU_SIM_HIS_PORT !== undefined ? Number(env.LINGSHU_SIM_HIS_PORT) : 9101,
      seed: true,
      // The demo profile's 互联互通 channel (config/demo-channels/demo-hip.yaml) on Lingshu's default port.
      lingshu: {
        wsdl: env.LINGSHU_SIM_HIS_LINGSHU_WSDL ?? `http://127.0.0.1:${env.LINGSHU_PORT ?? 8080}/channels/demo-hip?wsdl`,
        ...(env.LINGSHU_SIM_HIS_LINGSHU_ORDERS_WSDL ? { ordersWsdl: env.LINGSHU_SIM_HIS_LINGSHU_ORDERS_WSDL } : {}),
      },
      // The his-patients-adt channel's default port (config/default.yaml).
      mllp: target(env.LINGSHU_SIM_HIS_MLLP_TARGET ?? '127.0.0.1:2580'),
    },
    // LINGSHU_SIM_WECHATPAY_* and LINGSHU_SIM_ALIPAY_* (simulators/wechatpay/wechatpay-keys.ts, simulators/alipay/alipay-keys.ts).
    wechatpay: wechatPayOptions(env),
    alipay: alipayOptions(env),
    ...webApiPeers(env),
  };
}

/**
 * The JSON web API peers, each on LINGSHU_SIM_<PEER>_PORT. Credentials default to demo values that only these
 * simulators accept; callback URLs are unset unless given, since the channels that take them come with their issues.
 */
function webApiPeers(env: NodeJS.ProcessEnv): Pick<SimulatorConfig, 'medtechBooking' | 'prescriptionPlatform' | 'pharmacy' | 'regulator' | 'smsGateway' | 'drugDatabase'> {
  const port = (peer: string, fallback: number) => (env[`LINGSHU_SIM_${peer}_PORT`] !== undefined ? Number(env[`LINGSHU_SIM_${peer}_PORT`]) : fallback);
  return {
    medtechBooking: { port: port('MEDTECH_BOOKING', 9111), token: env.LINGSHU_SIM_MEDTECH_BOOKING_TOKEN ?? 'demo-medtech-token', notifyUrl: env.LINGSHU_SIM_MEDTECH_BOOKING_NOTIFY_URL },
    prescriptionPlatform: { port: port('PRESCRIPTION_PLATFORM', 9112), fixmedinsCodes: (env.LINGSHU_SIM_PRESCRIPTION_PLATFORM_FIXMEDINS_CODES ?? 'H33010600001').split(',').map((c) => c.trim()).filter(Boolean) },
    pharmacy: {
      port: port('PHARMACY', 9113), callbackUrl: env.LINGSHU_SIM_PHARMACY_CALLBACK_URL,
      // LINGSHU_SIM_PHARMACY_API: json, soap or both (the default, so that the demo shows the WSDL beside the web API).
      api: pharmacyApi(env.LINGSHU_SIM_PHARMACY_API),
      apps: { [env.LINGSHU_SIM_PHARMACY_APP_ID ?? 'lingshu-demo']: env.LINGSHU_SIM_PHARMACY_SECRET ?? 'demo-pharmacy-secret' },
    },
    regulator: {
      port: port('REGULATOR', 9114),
      apps: [{ appCode: env.LINGSHU_SIM_REGULATOR_APP_CODE ?? 'LINGSHU-DEMO', secret: env.LINGSHU_SIM_REGULATOR_SECRET ?? 'demo-regulator-secret', publicKey: env.LINGSHU_SIM_REGULATOR_PUBLIC_KEY }],
    },
    smsGateway: {
      port: port('SMS_GATEWAY', 9115), receiptUrl: env.LINGSHU_SIM_SMS_GATEWAY_RECEIPT_URL,
      receiptDelayMs: Number(env.LINGSHU_SIM_SMS_GATEWAY_RECEIPT_DELAY_MS ?? 1000),
      apps: { [env.LINGSHU_SIM_SMS_GATEWAY_APP_ID ?? 'lingshu-demo']: env.LINGSHU_SIM_SMS_GATEWAY_SECRET ?? 'demo-sms-secret' },
    },
    drugDatabase: { port: port('DRUG_DATABASE', 9118), apiKeys: [env.LINGSHU_SIM_DRUG_DATABASE_API_KEY ?? 'demo-drug-database-key'] },
  };
}

function pharmacyApi(value: string | undefined): 'json' | 'soap' | 'both' {
  const v = (value ?? 'both').toLowerCase();
  if (v !== 'json' && v !== 'soap' && v !== 'both') throw new Error(`LINGSHU_SIM_PHARMACY_API is json, soap or both, not ${value}`);
  return v;
}

/** The peers the host starts. */
export function allPeers(config: SimulatorConfig): SimulatedPeer[] {
  return [
    lisPeer(config.lis),
    pacsPeer(config.pacs),
    reproLisPeer(config.reproLis),
    hisPeer(config.his),
    wechatPayPeer(config.wechatpay),
    alipayPeer(config.alipay),
    medtechBookingPeer(config.medtechBooking),
    prescriptionPlatformPeer(config.prescriptionPlatform),
    pharmacyPeer(config.pharmacy),
    regulatorPeer(config.regulator),
    smsGatewayPeer(config.smsGateway),
    drugDatabasePeer(config.drugDatabase),
    // Payment gateways, 医技预约, 处方流转, pharmacy, regulator and SMS peers come with their issues.
  ];
}
