import crypto, { KeyObject } from 'node:crypto';

/** WeChat Pay APIv3 signatures (formats.md 1.1, 1.2): SHA256withRSA, Base64, over lines that each end in \n. */
export const WECHATPAY_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/** [I] An answer or notification signed further than this from our clock is refused (a replay, or a wrong clock). */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export const signedMessage = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');

export function rsaSign(privateKey: KeyObject, message: string): string {
  return crypto.sign('sha256', Buffer.from(message, 'utf8'), privateKey).toString('base64');
}

export interface MerchantKey {
  mchid: string;
  /** The serial of the 商户API证书 the private key belongs to. */
  serial: string;
  privateKey: KeyObject;
}

/** The Authorization header of one request; `pathAndQuery` is the URL as sent, from the first `/`. */
export function authorization(m: MerchantKey, method: string, pathAndQuery: string, body: string, now = new Date(), nonce = crypto.randomBytes(16).toString('hex')): string {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const signature = rsaSign(m.privateKey, signedMessage(method, pathAndQuery, timestamp, nonce, body));
  return `${WECHATPAY_SCHEME} mchid="${m.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${m.serial}"`;
}

export interface PlatformKey {
  /** 平台证书 serial or 微信支付公钥ID, as the Wechatpay-Serial header carries it. */
  serial: string;
  publicKey: KeyObject;
}

/** Why signed bytes from the gateway cannot be trusted, or undefined when they can. */
export type SignatureProblem = { reason: 'signature' | 'timestamp'; message: string };

/**
 * Checks the Wechatpay-Timestamp / -Nonce / -Signature / -Serial headers over the raw body with the platform key.
 * `header` reads a header by its lower-case name.
 */
export function verifyWechatpaySignature(platform: PlatformKey, header: (name: string) => string | undefined, body: Buffer, nowMs = Date.now()): SignatureProblem | undefined {
  const timestamp = header('wechatpay-timestamp');
  const nonce = header('wechatpay-nonce');
  const signature = header('wechatpay-signature');
  const serial = header('wechatpay-serial');
  if (!timestamp || !nonce || !signature || !serial) {
    return { reason: 'signature', message: 'Wechatpay-Timestamp, -Nonce, -Signature and -Serial are required' };
  }
  if (serial !== platform.serial) {
    return { reason: 'signature', message: `signed with platform key ${serial.slice(0, 64)}, expected ${platform.serial}` };
  }
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowMs / 1000 - ts) > MAX_CLOCK_SKEW_SECONDS) {
    return { reason: 'timestamp', message: `Wechatpay-Timestamp ${timestamp.slice(0, 20)} is more than ${MAX_CLOCK_SKEW_SECONDS} s from our clock` };
  }
  const message = Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), body, Buffer.from('\n')]);
  let genuine = false;
  try {
    genuine = crypto.verify('sha256', message, platform.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    genuine = false;
  }
  return genuine ? undefined : { reason: 'signature', message: 'Wechatpay-Signature does not verify with the platform key' };
}

/**
 * The JSAPI / 小程序 invocation parameters (wx.requestPayment / WeixinJSBridge getBrandWCPayRequest): paySign is the
 * merchant's SHA256withRSA over `appId\ntimeStamp\nnonceStr\npackage\n`.
 */
export function jsapiParameters(m: MerchantKey, appId: string, prepayId: string, now = new Date()): Record<string, string> {
  const timeStamp = String(Math.floor(now.getTime() / 1000));
  const nonceStr = crypto.randomBytes(16).toString('hex');
  const pkg = `prepay_id=${prepayId}`;
  return { appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign: rsaSign(m.privateKey, signedMessage(appId, timeStamp, nonceStr, pkg)) };
}
