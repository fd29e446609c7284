import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { SimulatorConfig } from '../simulators/peers';
import type { HospitalConfig } from './hospital-config';

const generateKeyPair = promisify(crypto.generateKeyPair);

/**
 * The demo hospital's merchant keys and the simulated gateways' keys, made in memory at each start: the simulators
 * get the public halves they verify with and the private ones they sign with, Lingshu the others. Nothing touches
 * disk and nothing is fixed in the repository, so no demo key can end up in a production configuration.
 */
export interface DemoPaymentKeys {
  wechatpay: { mchid: string; appid: string; apiV3Key: string; merchantSerial: string; platformSerial: string; merchant: KeyPem; platform: KeyPem };
  alipay: { appId: string; pid: string; app: KeyPem; alipay: KeyPem };
}

interface KeyPem { publicKey: string; privateKey: string }

async function pair(): Promise<KeyPem> {
  const { publicKey, privateKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  return { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export async function demoPaymentKeys(): Promise<DemoPaymentKeys> {
  const [merchant, platform, app, alipay] = await Promise.all([pair(), pair(), pair(), pair()]);
  return {
    wechatpay: {
      mchid: '1900009191', appid: 'wxd678efh567hg6787', apiV3Key: crypto.randomBytes(16).toString('hex'),
      merchantSerial: crypto.randomBytes(20).toString('hex').toUpperCase(), platformSerial: `PUB_KEY_ID_0119000091912025${crypto.randomInt(10_000_000, 99_999_999)}`,
      merchant, platform,
    },
    alipay: { appId: '2021004123456789', pid: '2088721000000001', app, alipay },
  };
}

/** The gateways section pointing at the simulated WeChat Pay and Alipay (ports from LINGSHU_SIM_*_PORT). */
export function demoGateways(keys: DemoPaymentKeys, env: NodeJS.ProcessEnv): HospitalConfig['payments']['gateways'] {
  const w = keys.wechatpay;
  const a = keys.alipay;
  return {
    wechatpay: {
      baseUrl: `http://127.0.0.1:${env.LINGSHU_SIM_WECHATPAY_PORT ?? 9120}`, mchid: w.mchid, appid: w.appid,
      merchantSerial: w.merchantSerial, merchantPrivateKey: { value: w.merchant.privateKey },
      platformSerial: w.platformSerial, platformPublicKey: { value: w.platform.publicKey }, apiV3Key: { value: w.apiV3Key }, timeoutMs: 10_000,
    },
    alipay: {
      gatewayUrl: `http://127.0.0.1:${env.LINGSHU_SIM_ALIPAY_PORT ?? 9121}/gateway.do`, appId: a.appId, pid: a.pid,
      appPrivateKey: { value: a.app.privateKey }, alipayPublicKey: { value: a.alipay.publicKey }, timeoutMs: 10_000,
    },
  };
}

/** The simulators' side of the same keys. */
export function withDemoPaymentKeys(config: SimulatorConfig, keys: DemoPaymentKeys): SimulatorConfig {
  const w = keys.wechatpay;
  const a = keys.alipay;
  return {
    ...config,
    wechatpay: {
      ...config.wechatpay, mchid: w.mchid, appid: w.appid, apiV3Key: w.apiV3Key,
      merchantPublicKey: w.merchant.publicKey, merchantSerial: w.merchantSerial, platformPrivateKey: w.platform.privateKey, platformSerial: w.platformSerial,
    },
    alipay: { ...config.alipay, appId: a.appId, pid: a.pid, appPublicKey: a.app.publicKey, alipayPrivateKey: a.alipay.privateKey },
  };
}
