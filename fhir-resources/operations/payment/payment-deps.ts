import type { PaymentGateway } from '../../../adapters/payment/payment-gateway';

export type GatewayChannel = PaymentGateway['channel'];

/** What the payment operations need from the hospital's configuration. */
export interface PaymentDeps {
  /** The configured payment channels; a channel absent here is refused by $checkout. */
  gateways: Partial<Record<GatewayChannel, PaymentGateway>>;
  /** Where each gateway posts its notifications: `<public base>/channels/<channel>/notify`. */
  notifyUrl(channel: GatewayChannel): string;
  /** How long an unpaid order stays payable before it is closed and its items released. */
  orderTtlMinutes: number;
  /** Shown to the payer in the order description, e.g. "灵枢医院". */
  merchantName: string;
  /** Who receives the money (PaymentNotice.recipient). */
  payee: { display: string };
}
