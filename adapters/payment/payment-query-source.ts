import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import type { PaymentGateway, PaymentNotification, TradeState } from './payment-gateway';

/** An order waiting for its payment, as the store knows it. */
export interface PendingOrder {
  channel: PaymentGateway['channel'];
  outTradeNo: string;
  /** Past the time it may be paid: close it unless it was paid meanwhile. */
  expired: boolean;
}

export interface PaymentQuerySourceOptions {
  gateways: Partial<Record<PaymentGateway['channel'], PaymentGateway>>;
  /** Orders to ask about: unpaid for longer than a notification normally takes. */
  pending: () => Promise<PendingOrder[]>;
  /** croner pattern; seconds allowed (`*\/10 * * * * *`). */
  cron: string;
  /** Further work of the same run on the same node, e.g. asking about refunds still in flight (their own writes). */
  alsoEachRun?: () => Promise<unknown>;
}

const WAITING: readonly TradeState[] = ['NOTPAY', 'USERPAYING'];

/**
 * The active query (formats.md 1.3: "query the order when the retries run out"): on a schedule, one node asks the
 * gateway about each unpaid order. A payment whose notification was lost comes in as the same PaymentNotification a
 * notification would have made; an order past its time is closed first, so it cannot be paid after being given up.
 * A gateway that does not answer is skipped until the next run.
 */
export function paymentQuerySource(options: PaymentQuerySourceOptions): SourceConnector {
  return {
    type: 'payment-query',
    async start(ctx: SourceContext) {
      const log = childLogger({ channel: ctx.channelId });
      ctx.schedule(options.cron, async () => {
        if (!ctx.accepting()) return;
        for (const order of await options.pending()) {
          const gateway = options.gateways[order.channel];
          if (!gateway) continue;
          try {
            let trade = await gateway.queryOrder(order.outTradeNo);
            if (WAITING.includes(trade.state)) {
              if (!order.expired) continue;
              await gateway.closeOrder(order.outTradeNo);
              trade = { ...trade, state: 'CLOSED' };
            }
            const found: PaymentNotification = { kind: 'payment', trade };
            await ctx.accept({ content: JSON.stringify(found), contentType: 'application/json', encoding: 'utf-8', correlationId: order.outTradeNo });
          } catch (err) {
            log.warn('payment query failed; next run tries again', { correlationId: order.outTradeNo, gateway: order.channel, error: (err as Error).message });
          }
        }
        await options.alsoEachRun?.().catch((err: Error) => log.warn('scheduled follow-up failed; next run tries again', { error: err.message }));
      });
    },
    async stop() {
      // The engine stops the schedule with the deployment.
    },
  };
}
