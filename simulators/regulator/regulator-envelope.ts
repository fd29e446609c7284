import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { sm2 } from 'sm-crypto-v2';

/**
 * The 监管平台 envelope, after the NHSA 服务平台 one (formats.md §4):
 * `{appCode, version, encType, signType, timestamp, data: {encData, iv?}, signData}`.
 * - encData: the JSON payload under SM4 (ECB for "SM4", CBC with `iv` for "SM4-CBC"), PKCS#7, hex. The key is the
 *   first 16 bytes of SM3(appCode ‖ secret): both sides hold the secret, and each app gets its own key.
 * - signData: over the sign string — the envelope fields and the plaintext payload as `data`, sorted by key,
 *   `k=v` joined with `&`, then `&key=<secret>`. "SM2": SM2 signature (SM3 with the default user id
 *   1234567812345678), r‖s hex, DER also accepted. "SM3": the hex SM3 digest of the sign string.
 * Signing the plaintext rather than the ciphertext means a regulator that decrypts with the wrong key cannot
 * mistake garbage for a verified record.
 */
export interface RegulatorEnvelope {
  appCode: string;
  version: string;
  encType: 'SM4' | 'SM4-CBC';
  signType: 'SM2' | 'SM3';
  timestamp: number;
  data: { encData: string; iv?: string };
  signData: string;
}

export interface RegulatorApp {
  appCode: string;
  secret: string;
  /** The hospital's SM2 public key (04‖x‖y hex) for SM2-signed envelopes. */
  publicKey?: string;
}

export class EnvelopeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export const sm3Hex = (text: string | Buffer): string => createHash('sm3').update(text).digest('hex');

export function sm4Key(appCode: string, secret: string): Buffer {
  return createHash('sm3').update(appCode + secret).digest().subarray(0, 16);
}

/** Sorted non-empty `k=v` pairs joined with `&`, and `&key=<secret>` when there is a shared secret. */
export function signString(fields: Record<string, string | number | undefined>, secret?: string): string {
  const pairs = Object.keys(fields).sort().filter((k) => fields[k] !== undefined && fields[k] !== '').map((k) => `${k}=${fields[k]}`);
  return secret === undefined ? pairs.join('&') : `${pairs.join('&')}&key=${secret}`;
}

function envelopeSignString(e: Pick<RegulatorEnvelope, 'appCode' | 'version' | 'encType' | 'signType' | 'timestamp'>, plain: string, secret: string): string {
  return signString({ appCode: e.appCode, version: e.version, encType: e.encType, signType: e.signType, timestamp: e.timestamp, data: plain }, secret);
}

/** Builds a sealed envelope as a hospital would; the simulator's tests and demo drive the regulator with it. */
export function sealEnvelope(payload: unknown, app: RegulatorApp & { privateKey?: string }, options: { encType?: 'SM4' | 'SM4-CBC'; signType?: 'SM2' | 'SM3'; timestamp?: number } = {}): RegulatorEnvelope {
  const plain = JSON.stringify(payload);
  const encType = options.encType ?? 'SM4';
  const signType = options.signType ?? (app.privateKey ? 'SM2' : 'SM3');
  const head = { appCode: app.appCode, version: '1.0.0', encType, signType, timestamp: options.timestamp ?? Math.floor(Date.now() / 1000) };
  const iv = encType === 'SM4-CBC' ? randomBytes(16) : null;
  const cipher = createCipheriv(encType === 'SM4' ? 'sm4-ecb' : 'sm4-cbc', sm4Key(app.appCode, app.secret), iv);
  const encData = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('hex').toUpperCase();
  const text = envelopeSignString(head, plain, app.secret);
  let signData: string;
  if (signType === 'SM2') {
    if (!app.privateKey) throw new Error('SM2 signing needs the hospital private key');
    signData = sm2.doSignature(text, app.privateKey, { hash: true });
  } else {
    signData = sm3Hex(text);
  }
  return { ...head, data: { encData, ...(iv ? { iv: iv.toString('hex') } : {}) }, signData };
}

/** Checks and opens an envelope; throws EnvelopeError with the platform's code and reason. */
export function openEnvelope(body: unknown, apps: ReadonlyMap<string, RegulatorApp>, now = Date.now(), skewSeconds = 300): unknown {
  const e = (body ?? {}) as Partial<RegulatorEnvelope>;
  if (!e.appCode || !e.version || !e.timestamp || !e.data?.encData || !e.signData) throw new EnvelopeError('10001', '参数缺失: appCode, version, timestamp, data.encData, signData 均为必填');
  if (e.encType !== 'SM4' && e.encType !== 'SM4-CBC') throw new EnvelopeError('10001', `不支持的加密方式 encType=${e.encType}`);
  if (e.signType !== 'SM2' && e.signType !== 'SM3') throw new EnvelopeError('10001', `不支持的签名方式 signType=${e.signType}`);
  const app = apps.get(e.appCode);
  if (!app) throw new EnvelopeError('10002', `appCode ${e.appCode} 未注册`);
  if (!Number.isFinite(Number(e.timestamp)) || Math.abs(now / 1000 - Number(e.timestamp)) > skewSeconds) throw new EnvelopeError('10003', `时间戳超出允许范围 (±${skewSeconds}s)`);
  let plain: string;
  try {
    const iv = e.encType === 'SM4-CBC' ? Buffer.from(e.data.iv ?? '', 'hex') : null;
    if (iv && iv.length !== 16) throw new Error('iv must be 16 bytes');
    const decipher = createDecipheriv(e.encType === 'SM4' ? 'sm4-ecb' : 'sm4-cbc', sm4Key(app.appCode, app.secret), iv);
    plain = Buffer.concat([decipher.update(Buffer.from(e.data.encData, 'hex')), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new EnvelopeError('10004', `SM4 解密失败: ${(err as Error).message}`);
  }
  const text = envelopeSignString(e as RegulatorEnvelope, plain, app.secret);
  if (!verify(e.signType, text, e.signData, app)) throw new EnvelopeError('10005', `${e.signType} 签名验证失败`);
  try {
    return JSON.parse(plain);
  } catch {
    throw new EnvelopeError('10004', '解密后的数据不是 JSON');
  }
}

function verify(signType: 'SM2' | 'SM3', text: string, signData: string, app: RegulatorApp): boolean {
  if (signType === 'SM3') return signData.toLowerCase() === sm3Hex(text);
  if (!app.publicKey) return false;
  try {
    // Hospitals' CA middleware often emits DER; the raw r‖s form is exactly 64 bytes.
    const der = signData.length !== 128;
    return sm2.doVerifySignature(text, signData, app.publicKey, { hash: true, der });
  } catch {
    return false;
  }
}

/** The regulator signs its answers so that the hospital can keep them as proof of submission. */
export function signAnswer(answer: Record<string, string | number>, privateKey: string): string {
  return sm2.doSignature(signString(answer), privateKey, { hash: true });
}

export function verifyAnswer(answer: Record<string, string | number>, signData: string, publicKey: string): boolean {
  return sm2.doVerifySignature(signString(answer), signData, publicKey, { hash: true });
}
