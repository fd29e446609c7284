import express from 'express';
import type { Knex } from 'knex';
import type { SourceConnector, SourceContext } from '../../engine/channel/channel';
import type { SmsGateway } from './sms-gateway';
import { migrateSmsRecords, recordReceipts } from './sms-records';

/**
 * Takes the gateway's delivery-receipt callbacks on POST /channels/<channelId>: verifies the signature, stores the
 * callback as a message (so it can be searched and a channel can act on it, e.g. update a referral Communication),
 * then records each receipt against the SMS it belongs to. The gateway is answered only after both, so a receipt
 * lost to a crash is sent again by the gateway; applying one twice changes nothing.
 */
export function smsReceiptSource(db: Knex, makeGateway: () => SmsGateway): SourceConnector {
  let gateway: SmsGateway | undefined;
  return {
    type: 'sms-receipts',
    async start(ctx: SourceContext) {
      await migrateSmsRecords(db);
      const gw = makeGateway();
      gateway = gw;
      ctx.httpRouter().post('/', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
        if (!ctx.accepting()) {
          res.status(503).json({ code: '503', message: 'paused; retry later' });
          return;
        }
        const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let receipts;
        try {
          receipts = gw.parseReceipts(body, req.headers);
        } catch (err) {
          res.status(401).json({ code: '401', message: (err as Error).message.slice(0, 200) });
          return;
        }
        await ctx.accept({ content: body.toString('utf8'), contentType: 'application/json', encoding: 'utf-8' });
        const matched = await recordReceipts(db, receipts);
        res.status(200).json({ code: '0', received: receipts.length, matched });
      });
    },
    async stop() {
      await gateway?.close?.();
      gateway = undefined;
    },
  };
}
