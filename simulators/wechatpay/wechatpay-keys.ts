import crypto, { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';

export interface WechatPayPeerOptions {
  /** API port; 0 = any free port. */
  port?: number;
  host?: string;
  /** 商户号 and the 公众号 / 小程序 appid bound to it. */
  mchid?: string;
  appid?: string;
  /** APIv3 key (32 ASCII characters): encrypts notification resources (AEAD_AES_256_GCM). */
  apiV3Key?: string;
  /** The merchant's public key (PEM) and the serial of its 商户API证书; a key pair is generated when absent. */
  merchantPublicKey?: string;
  merchantSerial?: string;
  /** The gateway's signing key (PEM) and its serial (微信支付公钥ID or 平台证书 serial); generated when absent. */
  platformPrivateKey?: string;
  platformSerial?: string;
}

export interface WechatPayKeys {
  mchid: string;
  appid: string;
  apiV3Key: string;
  merchant: { publicKey: KeyObject; publicKeyPem: string; serial: string; /** Only when generated here. */ privateKeyPem?: string };
  platform: { privateKey: KeyObject; publicKeyPem: string; serial: string };
}

const generateKeyPair = promisify(crypto.generateKeyPair);

async function rsaPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return generateKeyPair('rsa', { modulusLength: 2048 });
}

const pem = (key: KeyObject, type: 'spki' | 'pkcs8') => key.export({ type, format: 'pem' }).toString();

/** The key material of one merchant and of the gateway; what is not configured is made up at start. */
export async function wechatPayKeys(o: WechatPayPeerOptions): Promise<WechatPayKeys> {
  const apiV3Key = o.apiV3Key ?? crypto.randomBytes(16).toString('hex');
  if (Buffer.byteLength(apiV3Key) !== 32) throw new Error('the WeChat Pay APIv3 key must be 32 bytes');
  const merchantPair = o.merchantPublicKey ? undefined : await rsaPair();
  const merchantPublic = merchantPair ? merchantPair.publicKey : crypto.createPublicKey(o.merchantPublicKey!);
  const platformPrivate = o.platformPrivateKey ? crypto.createPrivateKey(o.platformPrivateKey) : (await rsaPair()).privateKey;
  return {
    mchid: o.mchid ?? '1900009191',
    appid: o.appid ?? 'wxd678efh567hg6787',
    apiV3Key,
    merchant: {
      publicKey: merchantPublic,
      publicKeyPem: pem(merchantPublic, 'spki'),
      // A 商户API证书 serial is 40 upper-case hex digits.
      serial: o.merchantSerial ?? crypto.randomBytes(20).toString('hex').toUpperCase(),
      privateKeyPem: merchantPair ? pem(merchantPair.privateKey, 'pkcs8') : undefined,
    },
    platform: {
      privateKey: platformPrivate,
      publicKeyPem: pem(crypto.createPublicKey(platformPrivate), 'spki'),
      // Merchants registered since 2024 verify with a 微信支付公钥, whose id takes the place of the certificate serial.
      serial: o.platformSerial ?? `PUB_KEY_ID_0119000091912025${crypto.randomInt(10_000_000, 99_999_999)}`,
    },
  };
}

const file = (path: string | undefined) => (path ? fs.readFileSync(path, 'utf8') : undefined);

/**
 * LINGSHU_SIM_WECHATPAY_PORT (9120), _MCHID, _APPID, _APIV3_KEY, _MERCHANT_PUBLIC_KEY_FILE with _MERCHANT_SERIAL, and
 * _PLATFORM_PRIVATE_KEY_FILE with _PLATFORM_SERIAL: keys live in files outside the repository, never in variables.
 */
export function wechatPayOptions(env: NodeJS.ProcessEnv): WechatPayPeerOptions {
  const v = (name: string) => env[`LINGSHU_SIM_WECHATPAY_${name}`] || undefined;
  return {
    port: v('PORT') !== undefined ? Number(v('PORT')) : 9120,
    mchid: v('MCHID'),
    appid: v('APPID'),
    apiV3Key: v('APIV3_KEY'),
    merchantPublicKey: file(v('MERCHANT_PUBLIC_KEY_FILE')),
    merchantSerial: v('MERCHANT_SERIAL'),
    platformPrivateKey: file(v('PLATFORM_PRIVATE_KEY_FILE')),
    platformSerial: v('PLATFORM_SERIAL'),
  };
}
