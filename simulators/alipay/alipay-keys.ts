import crypto, { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';

export interface AlipayPeerOptions {
  /** Gateway port; 0 = any free port. */
  port?: number;
  host?: string;
  /** The application's APPID and the merchant's PID (2088…, the seller_id). */
  appId?: string;
  pid?: string;
  /** 应用公钥 (PEM) the gateway verifies requests with; a key pair is generated when absent. */
  appPublicKey?: string;
  /** 支付宝私钥 (PEM) the gateway signs answers and notifications with; generated when absent. */
  alipayPrivateKey?: string;
}

export interface AlipayKeys {
  appId: string;
  pid: string;
  app: { publicKey: KeyObject; publicKeyPem: string; /** Only when generated here. */ privateKeyPem?: string };
  alipay: { privateKey: KeyObject; publicKeyPem: string };
}

const generateKeyPair = promisify(crypto.generateKeyPair);
const pem = (key: KeyObject, type: 'spki' | 'pkcs8') => key.export({ type, format: 'pem' }).toString();

/** The application's and the gateway's key material; what is not configured is made up at start. */
export async function alipayKeys(o: AlipayPeerOptions): Promise<AlipayKeys> {
  const appPair = o.appPublicKey ? undefined : await generateKeyPair('rsa', { modulusLength: 2048 });
  const appPublic = appPair ? appPair.publicKey : crypto.createPublicKey(o.appPublicKey!);
  const alipayPrivate = o.alipayPrivateKey ? crypto.createPrivateKey(o.alipayPrivateKey) : (await generateKeyPair('rsa', { modulusLength: 2048 })).privateKey;
  return {
    appId: o.appId ?? '2021004123456789',
    pid: o.pid ?? '2088721000000001',
    app: { publicKey: appPublic, publicKeyPem: pem(appPublic, 'spki'), privateKeyPem: appPair ? pem(appPair.privateKey, 'pkcs8') : undefined },
    alipay: { privateKey: alipayPrivate, publicKeyPem: pem(crypto.createPublicKey(alipayPrivate), 'spki') },
  };
}

const file = (path: string | undefined) => (path ? fs.readFileSync(path, 'utf8') : undefined);

/** LINGSHU_SIM_ALIPAY_PORT (9121), _APP_ID, _PID, _APP_PUBLIC_KEY_FILE, _ALIPAY_PRIVATE_KEY_FILE: keys live in files. */
export function alipayOptions(env: NodeJS.ProcessEnv): AlipayPeerOptions {
  const v = (name: string) => env[`LINGSHU_SIM_ALIPAY_${name}`] || undefined;
  return {
    port: v('PORT') !== undefined ? Number(v('PORT')) : 9121,
    appId: v('APP_ID'),
    pid: v('PID'),
    appPublicKey: file(v('APP_PUBLIC_KEY_FILE')),
    alipayPrivateKey: file(v('ALIPAY_PRIVATE_KEY_FILE')),
  };
}
