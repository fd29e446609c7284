import express from 'express';
import type winston from 'winston';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { NotificationAnswer, NotificationRefused, PaymentGateway, PaymentNotification } from './payment-gateway';

export interface PaymentNotifySourceOptions {
  gateway: PaymentGateway;
  /**
   * The channel's own judgement of a genuine notification: a reason to refuse it (unknown order, wrong amount …) or
   * undefined to take it. A refusal is answered as a failure, so the gateway delivers again; a throw likewise.
   */
  check?: (notification: PaymentNotification) => Promise<string | undefined>;
  /** Below /channels/<channelId>; the URL given to the gateway as notify_url. */
  path?: string;
  /**
   * Both gateways give up on an answer after 5 s and count the delivery failed; a failure is answered before that.
   * The work already started goes on and may still store the notification; the gateway's next delivery is then a
   * duplicate, which what acts on notifications already has to take.
   */
  answerWithinMs?: number;
  logger?: winston.Logger;
}

const DEFAULT_ANSWER_WITHIN_MS = 4000;

interface Outcome {
  ok: boolean;
  /** Why it was refused, for the log and (WeChat) the answer. */
  reason?: string;
  detail?: string;
}

/** Gateway checks the gateway itself can make: a notification for another merchant or app is not ours. */
function foreign(gateway: PaymentGateway, n: PaymentNotification): Outcome | undefined {
  if (n.kind !== 'payment') return undefined;
  if (n.trade.merchantId && n.trade.merchantId !== gateway.merchantId) return { ok: false, reason: 'merchant', detail: `merchant ${n.trade.merchantId} is not ${gateway.merchantId}` };
  if (n.trade.appId && n.trade.appId !== gateway.appId) return { ok: false, reason: 'app', detail: `app ${n.trade.appId} is not ${gateway.appId}` };
  return undefined;
}

/**
 * Receives a payment gateway's notifications on POST /channels/<channelId><path> (default /notify): verified and
 * decrypted by the gateway, checked by the channel, stored as the JSON of the PaymentNotification (correlation id =
 * out_trade_no, or out_refund_no for a refund), and only then acknowledged. Anything refused is logged with its
 * reason, answered as a failure the gateway will retry, and not stored. Repeated deliveries of one notification are
 * each stored: what acts on them must be idempotent (it is: billing README, "After payment").
 */
export function paymentNotifySource(options: PaymentNotifySourceOptions): SourceConnector {
  const { gateway, check } = options;
  const path = options.path ?? '/notify';
  const within = options.answerWithinMs ?? DEFAULT_ANSWER_WITHIN_MS;
  return {
    type: 'payment-notify',
    async start(ctx: SourceContext) {
      const log = childLogger({ channel: ctx.channelId, gateway: gateway.channel }, options.logger);

      async function handle(body: Buffer, headers: Record<string, string | undefined>, contentType: string | undefined): Promise<Outcome> {
        let n: PaymentNotification;
        try {
          n = gateway.parseNotification({ headers, body, contentType });
        } catch (err) {
          const reason = err instanceof NotificationRefused ? err.reason : 'malformed';
          return { ok: false, reason, detail: (err as Error).message };
        }
        const refused = foreign(gateway, n);
        if (refused) return refused;
        const correlationId = n.kind === 'payment' ? n.trade.outTradeNo : n.refund.outRefundNo;
        const why = check ? await check(n) : undefined;
        if (why) return { ok: false, reason: 'check', detail: `${correlationId}: ${why}` };
        const stored = await ctx.accept({ content: JSON.stringify(n), contentType: 'application/json', encoding: 'utf-8', correlationId });
        log.info('payment notification stored', { messageId: stored.messageId, correlationId, kind: n.kind, notificationId: n.notificationId });
        return { ok: true };
      }

      ctx.httpRouter().post(path, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
        const send = (a: NotificationAnswer, status = a.status) => {
          res.writeHead(status, a.body ? { 'Content-Type': a.contentType, 'Content-Length': Buffer.byteLength(a.body) } : {}).end(a.body || undefined);
        };
        if (!ctx.accepting()) {
          send(gateway.notificationAnswer(false, `通道 ${ctx.channelId} 已暂停，请稍后重试`), 503);
          return;
        }
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<Outcome>((resolve) => {
          timer = setTimeout(() => resolve({ ok: false, reason: 'late', detail: `not stored within ${within} ms` }), within);
        });
        const outcome = await Promise.race([
          handle(body, headers, req.headers['content-type']).catch((err: Error): Outcome => ({ ok: false, reason: 'error', detail: err.message })),
          late,
        ]);
        clearTimeout(timer);
        if (outcome.ok) {
          send(gateway.notificationAnswer(true));
          return;
        }
        const meta = { reason: outcome.reason, detail: outcome.detail };
        // A refusal of the notification itself is the sender's doing; a failure here is ours and needs an operator.
        if (outcome.reason === 'error' || outcome.reason === 'late') log.error('payment notification not taken', meta);
        else log.warn('payment notification refused', meta);
        send(gateway.notificationAnswer(false, outcome.detail?.slice(0, 200)));
      });
    },
    async stop() {
      // The router goes with the deployment; the gateway belongs to the channel that made it.
    },
  };
}
