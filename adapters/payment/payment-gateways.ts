import { z } from 'zod';
import { AlipayGateway, alipayConfigSchema } from './alipay-gateway';
import { WechatPayGateway, wechatPayConfigSchema } from './wechatpay-gateway';

/** The payment channels a site has; either may be absent (a hospital without an Alipay contract). */
export const paymentGatewaysSchema = z.object({
  wechatpay: wechatPayConfigSchema.optional(),
  alipay: alipayConfigSchema.optional(),
}).strict();

export type PaymentGatewaysConfig = z.input<typeof paymentGatewaysSchema>;

export interface PaymentGateways {
  wechatpay?: WechatPayGateway;
  alipay?: AlipayGateway;
}

/**
 * One gateway per configured channel, keys read now (a missing key file stops start-up with its name, not the first
 * payment). Invalid configuration throws the zod error naming the field.
 */
export function paymentGateways(config: PaymentGatewaysConfig): PaymentGateways {
  const c = paymentGatewaysSchema.parse(config);
  return {
    ...(c.wechatpay ? { wechatpay: new WechatPayGateway(c.wechatpay) } : {}),
    ...(c.alipay ? { alipay: new AlipayGateway(c.alipay) } : {}),
  };
}
