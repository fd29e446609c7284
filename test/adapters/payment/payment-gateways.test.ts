import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { paymentGateways, paymentGatewaysSchema } from '../../../adapters/payment/payment-gateways';
import { AlipayPeer, alipayPeer } from '../../../simulators/alipay/alipay-peer';
import { WechatPayPeer, wechatPayPeer } from '../../../simulators/wechatpay/wechatpay-peer';

describe('payment gateways from configuration', () => {
  let wechat: WechatPayPeer;
  let alipay: AlipayPeer;
  let dir: string;
  const ENV = 'LINGSHU_TEST_WECHATPAY_APIV3_KEY';

  beforeAll(async () => {
    wechat = wechatPayPeer();
    alipay = alipayPeer();
    await Promise.all([wechat.start(), alipay.start()]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lingshu-pay-keys-'));
    fs.writeFileSync(path.join(dir, 'apiclient_key.pem'), wechat.keys.merchant.privateKeyPem!);
    fs.writeFileSync(path.join(dir, 'pub_key.pem'), wechat.keys.platform.publicKeyPem);
    // Alipay's key tool writes bare Base64 without PEM armour.
    const bare = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    fs.writeFileSync(path.join(dir, 'app_private_key.txt'), bare(alipay.keys.app.privateKeyPem!));
    fs.writeFileSync(path.join(dir, 'alipay_public_key.txt'), bare(alipay.keys.alipay.publicKeyPem));
    process.env[ENV] = wechat.keys.apiV3Key;
  });
  afterAll(async () => {
    delete process.env[ENV];
    fs.rmSync(dir, { recursive: true, force: true });
    await Promise.all([wechat?.stop(), alipay?.stop()]);
  });

  const config = () => ({
    wechatpay: {
      baseUrl: wechat.url, mchid: wechat.keys.mchid, appid: wechat.keys.appid,
      merchantSerial: wechat.keys.merchant.serial, merchantPrivateKey: { file: path.join(dir, 'apiclient_key.pem') },
      platformSerial: wechat.keys.platform.serial, platformPublicKey: { file: path.join(dir, 'pub_key.pem') },
      apiV3Key: { env: ENV },
    },
    alipay: {
      gatewayUrl: `${alipay.url}/gateway.do`, appId: alipay.keys.appId, pid: alipay.keys.pid,
      appPrivateKey: { file: path.join(dir, 'app_private_key.txt') }, alipayPublicKey: { file: path.join(dir, 'alipay_public_key.txt') },
    },
  });

  it('makes both gateways with keys read from files and the environment, and they talk to the gateways', async () => {
    const g = paymentGateways(config());
    try {
      expect(g.wechatpay).toMatchObject({ channel: 'wechatpay', merchantId: wechat.keys.mchid, appId: wechat.keys.appid });
      expect(g.alipay).toMatchObject({ channel: 'alipay', merchantId: alipay.keys.pid, appId: alipay.keys.appId });
      expect((await g.wechatpay!.queryOrder('CFG-W')).state).toBe('NOTPAY');
      expect((await g.alipay!.queryOrder('CFG-A')).state).toBe('NOTPAY');
    } finally {
      await Promise.all([g.wechatpay?.close(), g.alipay?.close()]);
    }
  });

  it('makes only the gateways that are configured', () => {
    const g = paymentGateways({ alipay: config().alipay });
    expect(g.wechatpay).toBeUndefined();
    expect(g.alipay).toBeDefined();
    return g.alipay!.close();
  });

  it('names the key file it cannot read', () => {
    const c = config();
    c.wechatpay.merchantPrivateKey.file = path.join(dir, 'missing.pem');
    expect(() => paymentGateways(c)).toThrow(`WeChat Pay merchant private key: cannot read ${path.join(dir, 'missing.pem')} (ENOENT)`);
  });

  it('names the environment variable that is not set', () => {
    const c = config();
    c.wechatpay.apiV3Key = { env: 'LINGSHU_TEST_UNSET_KEY' };
    expect(() => paymentGateways(c)).toThrow('WeChat Pay APIv3 key: environment variable LINGSHU_TEST_UNSET_KEY is not set');
  });

  it('refuses a configuration that puts an unknown field beside the keys', () => {
    const c = { ...config(), alipay: { ...config().alipay, appPrivateKeyPem: 'x' } };
    expect(() => paymentGateways(c)).toThrow(/appPrivateKeyPem/);
  });

  it('accepts the shipped example configuration', () => {
    const example = YAML.parse(fs.readFileSync(path.join(__dirname, '../../../config/payment-gateways.example.yaml'), 'utf8'));
    expect(paymentGatewaysSchema.safeParse(example).success).toBe(true);
  });
});
