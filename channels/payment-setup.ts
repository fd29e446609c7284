import { paymentGateways, type PaymentGateways } from '../adapters/payment/payment-gateways';
import type { PaymentDeps } from '../fhir-resources/operations/payment/payment-deps';
import type { HospitalConfig } from './hospital-config';

/**
 * The payment gateways and the operations' view of the payment configuration, made once per configuration: the
 * notification channels and $checkout must use the same merchants, and keys are read once at start-up.
 */
const made = new WeakMap<HospitalConfig['payments'], PaymentDeps & { gateways: PaymentGateways }>();

export function paymentSetup(hospital: HospitalConfig): PaymentDeps & { gateways: PaymentGateways } {
  const p = hospital.payments;
  let setup = made.get(p);
  if (!setup) {
    const base = p.notifyBaseUrl.replace(/\/+$/, '');
    setup = {
      gateways: paymentGateways(p.gateways),
      notifyUrl: (channel) => `${base}/channels/${channel}/notify`,
      orderTtlMinutes: p.orderTtlMinutes,
      merchantName: p.merchantName,
      payee: { display: p.payee },
    };
    made.set(p, setup);
  }
  return setup;
}

/** Refund notifications go to the notify URL of the channel that took the payment. */
export function refundNotifyUrls(setup: PaymentDeps): Record<'wechatpay' | 'alipay', string> {
  return { wechatpay: setup.notifyUrl('wechatpay'), alipay: setup.notifyUrl('alipay') };
}
