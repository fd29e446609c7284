import express from 'express';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import { childLogger } from '../../engine/logger';
import { pharmacySignatureProblem } from './pharmacy-signature';

/** What the channel stores for one callback: who vouched for it (the verified appId) and the pharmacy's JSON. */
export interface PharmacyCallbackMessage {
  appId: string;
  callback: unknown;
}

export interface PharmacyCallbackSourceOptions {
  /** appId → the keys of the pharmacies that sign with it (one appId may be shared by the branches of a chain). */
  keys: Record<string, string[]>;
  maxBody?: string;
}

/**
 * The pharmacies' signed callbacks (accept, reject, 备药完成, 核销) at POST /channels/<channel>. The signature is
 * checked over the exact body bytes before anything is stored: a bad one is answered 401 and logged, and never
 * becomes a message. A good one is stored with the appId it verified under and answered 202 — the pharmacy's
 * retries then stop, and a repeat is harmless because applying it changes nothing.
 */
export function pharmacyCallbackSource(o: PharmacyCallbackSourceOptions): SourceConnector {
  return {
    type: 'pharmacy-callback',
    async start(ctx: SourceContext) {
      const log = childLogger({ component: 'pharmacy-callback', channel: ctx.channelId });
      ctx.httpRouter().post('/', express.raw({ type: () => true, limit: o.maxBody ?? '1mb' }), async (req, res) => {
        if (!ctx.accepting()) {
          res.status(503).set('Retry-After', '5').json({ code: 'PAUSED', message: `通道 ${ctx.channelId} 已暂停，请稍后重试` });
          return;
        }
        const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const appId = req.header('x-app-id') ?? '';
        const problem = pharmacySignatureProblem(o.keys[appId] ?? [], { appId, timestamp: req.header('x-timestamp'), sign: req.header('x-sign') }, body);
        if (problem) {
          log.warn('pharmacy callback refused: signature', { appId: appId.slice(0, 64), problem, remote: req.ip, bytes: body.length });
          res.status(401).json({ code: 'SIGN_ERROR', message: problem });
          return;
        }
        let callback: unknown;
        try {
          callback = JSON.parse(body.toString('utf8'));
        } catch (err) {
          log.warn('pharmacy callback refused: not JSON', { appId, error: (err as Error).message });
          res.status(400).json({ code: 'PARAM_ERROR', message: `body is not JSON: ${(err as Error).message}` });
          return;
        }
        const message: PharmacyCallbackMessage = { appId, callback };
        const result = await ctx.accept({ content: JSON.stringify(message), contentType: 'application/json', encoding: 'utf-8' });
        res.status(202).json({ code: '0', message: 'received', messageId: result.messageId });
      });
    },
    async stop() {
      // The router goes with the deployment.
    },
  };
}
