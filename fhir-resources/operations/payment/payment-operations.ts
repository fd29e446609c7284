import type { Operation } from '../operation';
import { checkoutOperation } from './checkout';
import type { PaymentDeps } from './payment-deps';
import { redeemOperation } from './redeem';

/** The payment workflow's operations: $checkout and the pharmacy window's $redeem. */
export function paymentOperations(deps: PaymentDeps): Operation[] {
  return [checkoutOperation(deps), redeemOperation];
}
