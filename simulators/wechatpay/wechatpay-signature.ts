import crypto, { KeyObject } from 'node:crypto';
import type { WechatPayKeys } from './wechatpay-keys';

const SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** [I] The gateway refuses a request signed more than 5 minutes away from its clock. */
const MAX_SKEW_SECONDS = 300;

/** The APIv3 message: every line, the last included, ends with \n (formats.md 1.1, 1.2). */
export const signedMessage = (...lines: string[]) => lines.map((l) => `${l}\n`).join('');

export function sign(privateKey: KeyObject, message: string): string {
  return crypto.sign('sha256', Buffer.from(message), privateKey).toString('base64');
}

export interface SignError {
  code: 'SIGN_ERROR';
  message: string;
  detail: { field: string; location: 'authorization'; detail: { issue: string }; sign_information?: object };
}

function refuse(field: string, issue: string, message = '错误的签名，验签失败', signInformation?: object): SignError {
  return { code: 'SIGN_ERROR', message, detail: { field, location: 'authorization', detail: { issue }, sign_information: signInformation } };
}

/** `WECHATPAY2-SHA256-RSA2048 k="v",k="v"…`, in any field order. */
export function parseAuthorization(header: string | undefined): Record<string, string> | undefined {
  if (!header?.startsWith(`${SCHEME} `)) return undefined;
  const fields: Record<string, string> = {};
  for (const m of header.slice(SCHEME.length + 1).matchAll(/\s*([a-z_]+)="([^"]*)"\s*(?:,|$)/g)) fields[m[1]] = m[2];
  return fields;
}

/**
 * Checks a merchant request the way the gateway does: the scheme, the merchant and its certificate serial, the clock,
 * then SHA256withRSA over `METHOD\nURL\ntimestamp\nnonce\nbody\n` with the merchant's public key. Returns the error body
 * the gateway answers with 401, or undefined when the request is genuine.
 */
export function verifyRequest(keys: WechatPayKeys, req: { method: string; url: string; body: string; authorization?: string }, nowSeconds = Math.floor(Date.now() / 1000)): SignError | undefined {
  const a = parseAuthorization(req.authorization);
  if (!a) return refuse('authorization', 'missing or not WECHATPAY2-SHA256-RSA2048', 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》');
  for (const field of ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no']) {
    if (!a[field]) return refuse(field, `${field} is missing`, `Http头Authorization缺少${field}`);
  }
  if (a.mchid !== keys.mchid) return refuse('mchid', 'mchid not match', '商户号不存在或与证书不匹配');
  if (a.serial_no !== keys.merchant.serial) return refuse('serial_no', 'serial_no not match', '商户证书序列号有误。请使用签名私钥匹配的证书序列号');
  const ts = Number(a.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > MAX_SKEW_SECONDS) return refuse('timestamp', 'timestamp expired', '签名时间戳已过期或与服务器时间相差过大');
  const message = signedMessage(req.method, req.url, a.timestamp, a.nonce_str, req.body);
  const genuine = crypto.verify('sha256', Buffer.from(message), keys.merchant.publicKey, Buffer.from(a.signature, 'base64'));
  if (genuine) return undefined;
  return refuse('signature', 'sign not match', undefined, {
    method: req.method, url: req.url, sign_message_length: Buffer.byteLength(message),
    truncated_sign_message: message.slice(0, 60),
  });
}

/**
 * The Wechatpay-* headers of a response or notification: SHA256withRSA over `timestamp\nnonce\nbody\n` with the
 * platform key. `forged` signs other bytes, as a man in the middle or a wrong key would.
 */
export function signedHeaders(keys: WechatPayKeys, body: string, forged = false): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = crypto.randomBytes(16).toString('hex').toUpperCase();
  const signature = sign(keys.platform.privateKey, signedMessage(timestamp, nonce, forged ? `${body} ` : body));
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': keys.platform.serial,
    'Wechatpay-Signature-Type': SCHEME,
  };
}
